#!/usr/bin/env python3
"""Cost of `gt dashboard` (issue 14 §3; results in BENCHMARKS.md).

    scripts/bench_dashboard.py [--gt PATH] [--seconds N] [--browsers N] [--rate N] [--keep]

Makes a temporary town with a rig and three running stand-in agents, starts
`gt dashboard`, and measures the dashboard process's CPU (utime + stime of
all its threads, from /proc) in two phases:

1. idle: no browser connected, for --seconds;
2. load: --browsers clients that do what the page's script does (one
   /events stream each; on each event, a fetch of the overview's live part,
   at most every 500 ms), while a writer appends --rate events per second to
   the town's event log (directly in SQLite, so the writer's own cost is not
   gt's), for --seconds.

It reports CPU as a percentage of one core, and for the load phase how long
each event took to be on screen: from its append to the end of the first
overview fetch that began after the client received it (p50, p95, max over
every client and event). Everything it starts (dashboard, tmux server,
agents) is stopped and the directory removed at the end, also on failure,
unless --keep.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", default=None)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--browsers", type=int, default=5)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    gt = a.gt
    if gt is None:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "gt-cli"], cwd=root, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        gt = os.path.join(target, "release", "gt")
    gt = os.path.abspath(gt)
    work = tempfile.mkdtemp(prefix="gt-bench-dashboard-")
    home = os.path.join(work, "home")
    os.mkdir(home)
    env = {
        "HOME": home,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "GT_ACTOR": "bench",
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
    }
    town = os.path.join(work, "town")
    dash = None

    def run(*args, cwd=None):
        return subprocess.run([gt, *args], cwd=cwd or town, env=env, check=True,
                              capture_output=True, text=True).stdout

    try:
        subprocess.run([gt, "init", "--name", "bench", town], env=env, check=True, capture_output=True)
        src = os.path.join(work, "src")
        os.mkdir(src)
        for c in (["git", "init", "-q", "-b", "main"],
                  ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "init"]):
            subprocess.run(c, cwd=src, env=env, check=True)
        run("rig", "add", "r", src)
        run("config", "agent", "set", "hang", f"{gt} agent-standin --behavior hang")
        for p in ("a", "b", "c"):
            run("sling", f"task {p}", f"r/{p}", "--agent", "hang")
        db = os.path.join(town, ".gt", "town.db")

        dash = subprocess.Popen([gt, "dashboard", "--no-open"], cwd=town, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = urllib.parse.urlparse(dash.stdout.readline().strip())
        host, port = url.hostname, url.port

        def conn():
            return http.client.HTTPConnection(host, port, timeout=30)

        c = conn()
        c.request("GET", f"/?{url.query}")
        r = c.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        time.sleep(1.0)

        # Phase 1: nobody looks.
        t0, c0 = time.monotonic(), cpu_seconds(dash.pid)
        time.sleep(a.seconds)
        idle = (cpu_seconds(dash.pid) - c0) / (time.monotonic() - t0) * 100

        # Phase 2: browsers follow while the town writes.
        stop = threading.Event()
        appended = {}  # event id -> monotonic time of append
        lat = []
        lock = threading.Lock()

        def writer():
            w = sqlite3.connect(db, timeout=10)
            n = 0
            start = time.monotonic()
            while not stop.is_set():
                n += 1
                due = start + n / a.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ts = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
                cur = w.execute(
                    "INSERT INTO events (time, kind, actor, summary, payload) VALUES (?, 'bench.tick', 'bench', ?, '{}')",
                    (ts, f"tick {n}"))
                w.commit()
                with lock:
                    appended[cur.lastrowid] = time.monotonic()
            w.close()

        def browser():
            s = conn()
            s.request("GET", "/events", headers={"Cookie": cookie})
            resp = s.getresponse()
            pending = []  # (event id, received at)
            last_fetch = [0.0]
            fetching = threading.Lock()

            def fetch_loop():
                f = conn()
                while not stop.is_set():
                    time.sleep(0.02)
                    if not pending:
                        continue
                    wait = 0.5 - (time.monotonic() - last_fetch[0])
                    if wait > 0:
                        time.sleep(wait)
                    began = time.monotonic()
                    batch = [p for p in list(pending) if p[1] <= began]
                    del pending[:len(batch)]
                    f.request("GET", "/", headers={"Cookie": cookie, "X-GT-Fragment": "1"})
                    fr = f.getresponse()
                    fr.read()
                    done = time.monotonic()
                    last_fetch[0] = began
                    with lock:
                        for eid, _ in batch:
                            if eid in appended:
                                lat.append(done - appended[eid])

            threading.Thread(target=fetch_loop, daemon=True).start()
            eid = None
            while not stop.is_set():
                line = resp.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith("id: "):
                    eid = int(line[4:])
                elif line.startswith("data: ") and eid is not None:
                    pending.append((eid, time.monotonic()))

        threads = [threading.Thread(target=browser, daemon=True) for _ in range(a.browsers)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        wt = threading.Thread(target=writer, daemon=True)
        wt.start()
        time.sleep(2.0)  # settle
        with lock:
            lat.clear()
        t0, c0 = time.monotonic(), cpu_seconds(dash.pid)
        time.sleep(a.seconds)
        load = (cpu_seconds(dash.pid) - c0) / (time.monotonic() - t0) * 100
        with lock:
            got = sorted(lat)
            n_events = len(appended)
        stop.set()
        q = lambda p: got[min(len(got) - 1, int(p * len(got)))] if got else float("nan")
        print(json.dumps({
            "idle_cpu_percent": round(idle, 3),
            "load_cpu_percent": round(load, 2),
            "browsers": a.browsers,
            "events_per_second": a.rate,
            "seconds": a.seconds,
            "events_appended": n_events,
            "on_screen_samples": len(got),
            "on_screen_p50_ms": round(q(0.5) * 1000, 1),
            "on_screen_p95_ms": round(q(0.95) * 1000, 1),
            "on_screen_max_ms": round(got[-1] * 1000, 1) if got else None,
        }, indent=2))
    finally:
        if dash is not None:
            dash.send_signal(signal.SIGTERM)
            try:
                dash.wait(5)
            except subprocess.TimeoutExpired:
                dash.kill()
        subprocess.run([gt, "--town", town, "down", "--all"], env=env, capture_output=True)
        subprocess.run([gt, "--town", town, "down"], env=env, capture_output=True)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
