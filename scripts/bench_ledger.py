#!/usr/bin/env python3
"""Helpers for scripts/bench.sh (the ledger benchmark).

  bench_ledger.py gen --out FILE [--beads N] [--deps N] [--seed S]
      Writes a synthetic ledger in the classic Beads (bd) JSONL format and
      prints a JSON summary on stdout (counts, and a bead with dependencies
      for `gt show`). Deterministic for a given seed.

  bench_ledger.py time --out JSON [--runs N] [--warmup N] [--rounds N] [--hyperfine]
                       [--check] --cmd NAME 'ARGV (shell words)' [--cmd NAME 'ARGV' ...]
      Times whole processes, in rounds (each round times every command in
      order: warm-up runs, then N timed runs), through hyperfine
      (--shell=none) when asked, else a perf_counter loop around
      subprocess.run. Median, p90, min, max over all rounds, as JSON.
      --check runs every command once first and stops, showing the command
      and its stderr, if one fails.

  bench_ledger.py table --timings JSON [--targets JSON] [--baseline NAME]
      Prints the result table (command, median ms, ratio to the baseline,
      target, pass/fail) as Markdown; exit status 0 even when a target is
      missed (the table says so).

  bench_ledger.py compare --timings JSON [--targets JSON] --columns PREFIX_A NAME_A PREFIX_B NAME_B
                          [--import-ms MS_A MS_B --beads N]
      The same table for two stores timed in one run: the commands named
      PREFIX_A + name and PREFIX_B + name side by side, each with its ratio to
      its own PREFIX + `gt --version`, and B ÷ A; the import times as a row.

Only the standard library is used.
"""

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

B36 = "0123456789abcdefghijklmnopqrstuvwxyz"

WORDS = (
    "parser lexer config cache index query store schema migration token session "
    "worker queue retry timeout logging metrics tracing handler router client server "
    "socket buffer stream codec auth login token refresh import export backup restore "
    "sync merge branch commit review deploy build release docs test fixture snapshot "
    "benchmark profile memory leak crash panic error warning flaky race deadlock lock "
    "upgrade dependency version api endpoint field column table view page button form"
).split()
VERBS = [
    "Fix", "Add", "Remove", "Refactor", "Document", "Speed up", "Rewrite", "Investigate",
    "Split", "Merge", "Validate", "Handle", "Support", "Test", "Clean up", "Port", "Harden",
    "Simplify", "Cache", "Log",
]
LABELS = [
    "backend", "frontend", "cli", "db", "perf", "security", "docs", "ux", "infra",
    "ci", "flaky", "tech-debt", "needs-triage", "good-first-issue", "p-high",
    "regression", "api", "storage", "agents", "release",
]
SENTENCES = [
    "Reproduce with the attached steps first.",
    "The current behaviour is surprising for new users.",
    "See the discussion in the weekly sync.",
    "Keep the public API unchanged.",
    "This blocks the next release.",
    "Add a regression test.",
    "Measure before and after.",
    "The fix should be small and local.",
    "Check the error message wording.",
    "Coordinate with the storage owners.",
]


def b36(n, width):
    s = []
    for _ in range(width):
        n, r = divmod(n, 36)
        s.append(B36[r])
    return "".join(reversed(s))


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z"


def gen(args):
    rng = random.Random(args.seed)
    n = args.beads
    # Unique hash-like ids, bd style: prefix-<base36>.
    width = 5 if n < 36**5 // 20 else 6
    ids, seen = [], set()
    while len(ids) < n:
        cand = "bn-" + b36(rng.randrange(36**width), width)
        if cand not in seen:
            seen.add(cand)
            ids.append(cand)

    # Statuses: older beads are more often closed (60% overall).
    statuses = []
    for i in range(n):
        p_closed = 0.9 - 0.6 * (i / n)
        r = rng.random()
        if r < p_closed:
            statuses.append("closed")
        else:
            r2 = rng.random()
            statuses.append("open" if r2 < 0.72 else "in_progress" if r2 < 0.9 else "deferred")

    # Types: ~2% epics, which get children.
    types = []
    for _ in range(n):
        r = rng.random()
        types.append(
            "epic" if r < 0.02 else "bug" if r < 0.30 else "feature" if r < 0.50
            else "chore" if r < 0.58 else "task"
        )
    epics = [i for i in range(n) if types[i] == "epic"]

    # Dependencies, always from a higher index to a lower one (no cycles).
    deps = [[] for _ in range(n)]
    parent = [None] * n
    want = args.deps
    n_parent = int(want * 0.14)
    n_related = int(want * 0.08)
    n_blocks = want - n_parent - n_related
    counts = {"blocks": 0, "parent-child": 0, "related": 0}
    have = [set() for _ in range(n)]

    def add(i, j, t):
        if i <= j or (j, t) in have[i]:
            return False
        have[i].add((j, t))
        deps[i].append((j, t))
        counts[t] += 1
        return True

    # parent-child: children shortly after their epic.
    tries = 0
    while counts["parent-child"] < n_parent and tries < n_parent * 20:
        tries += 1
        e = rng.choice(epics)
        c = e + 1 + int(rng.expovariate(1 / 300))
        if c >= n or parent[c] is not None or types[c] == "epic":
            continue
        if add(c, e, "parent-child"):
            parent[c] = e
    # blocks: mostly on recent work, sometimes far back.
    tries = 0
    while counts["blocks"] < n_blocks and tries < n_blocks * 20:
        tries += 1
        i = rng.randrange(1, n)
        back = 1 + int(rng.expovariate(1 / 150)) if rng.random() < 0.9 else rng.randrange(1, i + 1)
        add(i, max(0, i - back), "blocks")
    tries = 0
    while counts["related"] < n_related and tries < n_related * 20:
        tries += 1
        i = rng.randrange(1, n)
        add(i, rng.randrange(0, i), "related")

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    created = []
    t = start
    for _ in range(n):
        t = t + timedelta(seconds=rng.randrange(30, 600), microseconds=rng.randrange(10**6))
        created.append(t)

    with open(args.out, "w", encoding="utf-8") as f:
        for i in range(n):
            c = created[i]
            u = c + timedelta(seconds=rng.randrange(0, 14 * 86400))
            title = f"{rng.choice(VERBS)} {rng.choice(WORDS)} {rng.choice(WORDS)} in the {rng.choice(WORDS)}"
            desc = " ".join(rng.choice(SENTENCES) for _ in range(rng.randrange(0, 6)))
            obj = {
                "id": ids[i],
                "title": title,
                "description": desc,
                "status": statuses[i],
                "priority": rng.choices(range(5), weights=(3, 15, 50, 25, 7))[0],
                "issue_type": types[i],
                "labels": sorted(rng.sample(LABELS, rng.choices((0, 1, 2, 3), weights=(40, 35, 18, 7))[0])),
                "created_at": ts(c),
                "updated_at": ts(u),
                "closed_at": ts(u) if statuses[i] == "closed" else None,
            }
            if deps[i]:
                obj["dependencies"] = [
                    {
                        "issue_id": ids[i],
                        "depends_on_id": ids[j],
                        "type": dt,
                        "created_at": ts(c),
                    }
                    for j, dt in deps[i]
                ]
            f.write(json.dumps(obj, separators=(",", ":")) + "\n")

    # A bead to `gt show`: not closed, with several edges both ways.
    incoming = [0] * n
    for i in range(n):
        for j, _ in deps[i]:
            incoming[j] += 1
    show = max(
        (i for i in range(n) if statuses[i] != "closed" and deps[i]),
        key=lambda i: (min(len(deps[i]), 4) + min(incoming[i], 4), -i),
    )
    # The shortest unique start of its hash part (`gt show 8tr`-style partial id).
    hashes = [x.split("-", 1)[1] for x in ids]
    h = hashes[show]
    short = next((h[:k] for k in range(3, len(h)) if sum(1 for x in hashes if x.startswith(h[:k])) == 1), h)
    summary = {
        "file": args.out,
        "beads": n,
        "dependencies": sum(counts.values()),
        "by_type": counts,
        "by_status": {s: statuses.count(s) for s in ("open", "in_progress", "deferred", "closed")},
        "epics": len(epics),
        "show_id": ids[show],
        "show_edges": {"out": len(deps[show]), "in": incoming[show]},
        "show_partial": short,
        "seed": args.seed,
    }
    print(json.dumps(summary))


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(times):
    return {
        "median_ms": statistics.median(times) * 1000,
        "p90_ms": percentile(times, 0.9) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
        "runs": len(times),
    }


def time_cmds(args):
    """Times every command in `rounds` rounds (each round runs every command,
    baseline first), so that slow drift of a shared machine hits all commands
    alike; the summary is over the samples of all rounds."""
    cmds = [[name, *shlex.split(line)] for name, line in args.cmd]
    samples = {c[0]: [] for c in cmds}
    per_round = {c[0]: [] for c in cmds}
    raw = []
    if args.check:
        for name, *argv in cmds:
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                sys.exit(f"command failed (exit {p.returncode}): {name}\n  {shlex.join(argv)}\n"
                         f"{p.stderr.rstrip()}")
    for _ in range(args.rounds):
        if args.hyperfine:
            fd, path = tempfile.mkstemp(suffix=".json")
            os.close(fd)
            try:
                hf = ["hyperfine", "--shell=none", "--style=none", "--warmup", str(args.warmup),
                      "--runs", str(args.runs), "--export-json", path]
                for name, *argv in cmds:
                    hf += ["--command-name", name, shlex.join(argv)]
                p = subprocess.run(hf, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    sys.exit(f"hyperfine failed:\n{p.stderr}")
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
            finally:
                os.unlink(path)
            raw.append(data)
            for r in data["results"]:
                samples[r["command"]] += r["times"]
                per_round[r["command"]].append(statistics.median(r["times"]) * 1000)
        else:
            for name, *argv in cmds:
                for _ in range(args.warmup):
                    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   check=True)
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   check=True)
                    times.append(time.perf_counter() - t0)
                samples[name] += times
                per_round[name].append(statistics.median(times) * 1000)
    if args.hyperfine:
        tool = "hyperfine " + subprocess.run(
            ["hyperfine", "--version"], capture_output=True, text=True).stdout.split()[-1]
        if args.raw:
            with open(args.raw, "w", encoding="utf-8") as f:
                json.dump(raw, f)
    else:
        tool = "python perf_counter loop"
    results = {name: summarize(ts) for name, ts in samples.items()}
    for name in results:
        results[name]["round_medians_ms"] = per_round[name]
    out = {"tool": tool, "warmup": args.warmup, "runs": args.runs, "rounds": args.rounds,
           "order": [c[0] for c in cmds], "results": results}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)


def table(args):
    with open(args.timings, encoding="utf-8") as f:
        t = json.load(f)
    targets = {}
    if args.targets:
        with open(args.targets, encoding="utf-8") as f:
            targets = json.load(f)
    base = t["results"][args.baseline]["median_ms"]
    rows = [("command", "median ms", "p90 ms", f"× `{args.baseline}`", "target", "result")]
    failed = 0
    for name in t["order"]:
        r = t["results"][name]
        ratio = r["median_ms"] / base
        tgt = targets.get(name)
        if name == args.baseline:
            target, verdict = "baseline", "—"
        elif tgt is None:
            target, verdict = "—", "info"
        else:
            max_ratio = tgt.get("ratio", 5.0)
            ok_ms = r["median_ms"] <= tgt["ms"]
            ok_ratio = ratio <= max_ratio
            target = f"≤ {tgt['ms']:g} ms and ≤ {max_ratio:g}×"
            if ok_ms and ok_ratio:
                verdict = "pass"
            else:
                failed += 1
                why = [w for w, ok in (("ms", ok_ms), ("ratio", ok_ratio)) if not ok]
                verdict = "FAIL (" + ", ".join(why) + ")"
        rows.append((f"`{name}`", f"{r['median_ms']:.2f}", f"{r['p90_ms']:.2f}",
                     f"{ratio:.2f}", target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    rounds = t.get("rounds", 1)
    print(f"\n{t['tool']}: {rounds} round(s) × ({t['warmup']} warm-up + {t['runs']} timed runs) "
          f"per command, medians over all {rounds * t['runs']} timed runs; {failed} target(s) missed.")
    if rounds > 1:
        drift = ", ".join(f"{m:.2f}" for m in t["results"][args.baseline]["round_medians_ms"])
        print(f"Baseline median per round (ms): {drift}.")


def compare(args):
    with open(args.timings, encoding="utf-8") as f:
        t = json.load(f)
    targets = {}
    if args.targets:
        with open(args.targets, encoding="utf-8") as f:
            targets = json.load(f)
    (pa, na), (pb, nb) = (args.columns[0:2], args.columns[2:4])
    res = t["results"]
    baseline = "gt --version"
    base = {pa: res[pa + baseline]["median_ms"], pb: res[pb + baseline]["median_ms"]}
    names = [n[len(pa):] for n in t["order"] if n.startswith(pa)]
    rows = [("command", f"{na} ms (p90)", f"{na} × `{baseline}`", f"{nb} ms (p90)",
             f"{nb} × `{baseline}`", f"{nb} ÷ {na}", "target", na, nb)]
    failed = {pa: 0, pb: 0}

    def verdict(prefix, name, ms, ratio):
        tgt = targets.get(name)
        if name == baseline:
            return "—"
        if tgt is None:
            return "info"
        ok_ms, ok_ratio = ms <= tgt["ms"], ratio <= tgt.get("ratio", 5.0)
        if ok_ms and ok_ratio:
            return "pass"
        failed[prefix] += 1
        return "FAIL (" + ", ".join(w for w, ok in (("ms", ok_ms), ("ratio", ok_ratio)) if not ok) + ")"

    for name in names:
        a, b = res[pa + name], res[pb + name]
        ra, rb = a["median_ms"] / base[pa], b["median_ms"] / base[pb]
        tgt = targets.get(name)
        target = ("baseline" if name == baseline else
                  f"≤ {tgt['ms']:g} ms and ≤ {tgt.get('ratio', 5.0):g}×" if tgt else "—")
        rows.append((f"`{name}`", f"{a['median_ms']:.2f} ({a['p90_ms']:.2f})", f"{ra:.2f}",
                     f"{b['median_ms']:.2f} ({b['p90_ms']:.2f})", f"{rb:.2f}",
                     f"{b['median_ms'] / a['median_ms']:.2f}", target,
                     verdict(pa, name, a["median_ms"], ra), verdict(pb, name, b["median_ms"], rb)))
    if args.import_ms:
        ia, ib = args.import_ms
        rows.append((f"`gt bead import` ({args.beads} beads, once)", f"{ia / 1000:.2f} s", "—",
                     f"{ib / 1000:.2f} s", "—", f"{ib / ia:.2f}", "≤ 10 s",
                     "pass" if ia <= 10000 else "FAIL", "pass" if ib <= 10000 else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    rounds = t.get("rounds", 1)
    print(f"\n{t['tool']}: {rounds} round(s) × ({t['warmup']} warm-up + {t['runs']} timed runs) "
          f"per command, each round {na}'s baseline and commands then {nb}'s; medians over all "
          f"{rounds * t['runs']} timed runs; targets missed: {na} {failed[pa]}, {nb} {failed[pb]}.")
    if rounds > 1:
        for prefix, label in ((pa, na), (pb, nb)):
            drift = ", ".join(f"{m:.2f}" for m in res[prefix + baseline]["round_medians_ms"])
            print(f"Baseline median per round before {label}'s commands (ms): {drift}.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--out", required=True)
    g.add_argument("--beads", type=int, default=100_000)
    g.add_argument("--deps", type=int, default=75_000)
    g.add_argument("--seed", type=int, default=20261124)
    tm = sub.add_parser("time")
    tm.add_argument("--out", required=True)
    tm.add_argument("--raw", help="also keep hyperfine's own JSON export here")
    tm.add_argument("--runs", type=int, default=10)
    tm.add_argument("--warmup", type=int, default=2)
    tm.add_argument("--rounds", type=int, default=3)
    tm.add_argument("--hyperfine", action="store_true")
    tm.add_argument("--check", action="store_true", help="run every command once first; stop if one fails")
    tm.add_argument("--cmd", nargs=2, action="append", required=True, metavar=("NAME", "ARGV"))
    tb = sub.add_parser("table")
    tb.add_argument("--timings", required=True)
    tb.add_argument("--targets")
    tb.add_argument("--baseline", default="gt --version")
    cp = sub.add_parser("compare")
    cp.add_argument("--timings", required=True)
    cp.add_argument("--targets")
    cp.add_argument("--columns", nargs=4, required=True, metavar=("PREFIX_A", "NAME_A", "PREFIX_B", "NAME_B"))
    cp.add_argument("--import-ms", nargs=2, type=int, metavar=("MS_A", "MS_B"))
    cp.add_argument("--beads", type=int, default=0)
    a = p.parse_args()
    if a.what == "gen":
        gen(a)
    elif a.what == "time":
        if a.runs < 1 or a.rounds < 1:
            sys.exit("--runs and --rounds must be at least 1")
        time_cmds(a)
    elif a.what == "compare":
        compare(a)
    else:
        table(a)


if __name__ == "__main__":
    main()
