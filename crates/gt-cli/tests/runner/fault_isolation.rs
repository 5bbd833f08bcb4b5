//! One fault never stops the town (issue 10): a broken worktree or a broken
//! rig is that agent's or rig's problem and everything else is served in the
//! same patrol; the refinery runs beside the patrol; gate process groups are
//! recorded and never outlive the refinery that started them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{action_kinds, git, TestTown};
use serde_json::Value;

/// Points a worktree's `.git` at nothing; returns what it held.
fn break_worktree(wt: &Path) -> String {
    let dotgit = wt.join(".git");
    let before = std::fs::read_to_string(&dotgit).unwrap();
    std::fs::write(&dotgit, "gitdir: /nonexistent/gt-broken-worktree\n").unwrap();
    before
}

#[test]
fn a_broken_worktree_and_a_broken_rig_do_not_stop_the_patrol() {
    let t = TestTown::new();
    t.with_rig("a");
    t.with_rig("b");
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    // Rig b: finished work waiting to merge.
    let done_b = t.sling("b", "b work", "standin");
    let done_a = t.sling("a", "a work", "standin");
    let (bead_b, bead_a) = (
        done_b["bead"].as_str().unwrap().to_string(),
        done_a["bead"].as_str().unwrap().to_string(),
    );
    t.wait_for(60, "both merging", |t| {
        t.bead_status(&bead_b) == "merging" && t.bead_status(&bead_a) == "merging"
    });
    // Rig a: an agent that crashes with unsaved work, then its worktree breaks.
    let crash = t.sling("a", "a crash", "standin-crash");
    let crash_bead = crash["bead"].as_str().unwrap().to_string();
    let agent = crash["agent"].as_str().unwrap().to_string();
    t.wait_for(20, "the crash", |t| t.session_is(&crash_bead, "exited"));
    let wt = t.worktree("a", crash["polecat"].as_str().unwrap());
    let dotgit = break_worktree(&wt);
    // Rig a's target branch is gone: its refinery cannot land anything.
    let main_a = git(&t.repo("a"), &["rev-parse", "refs/heads/main"]);
    git(&t.repo("a"), &["update-ref", "-d", "refs/heads/main"]);
    // A queued bead for rig b (the town is at capacity when it is slung).
    let busy = t.sling("b", "b busy", "standin-hang");
    t.wait_for(20, "the busy agent", |t| {
        t.session_is(busy["bead"].as_str().unwrap(), "running")
    });
    t.ok(&["config", "set", "scheduler.max_polecats", "1"]);
    let queued = t.sling("b", "queued work", "standin-hang");
    assert_eq!(queued["queued"], true, "{queued}");
    let queued_bead = queued["bead"].as_str().unwrap().to_string();
    t.ok(&["config", "set", "scheduler.max_polecats", "3"]);

    let r = t.json(&["deacon", "patrol", "--once"]);
    let kinds = action_kinds(&r);
    // Everything else was served in this very patrol.
    assert!(kinds.contains(&"deacon.dispatched".to_string()), "{r}");
    assert_ne!(t.bead_status(&queued_bead), "queued");
    assert_eq!(t.bead_status(&bead_b), "closed", "{r}");
    let main_b = git(&t.repo("b"), &["log", "--format=%s", "main"]);
    assert!(main_b.contains(&bead_b), "{main_b}");
    // The failures are reported, each for its own subject.
    let failures = r["failures"].as_array().unwrap();
    assert!(
        failures
            .iter()
            .any(|f| f["subject"] == agent.as_str() && f["step"] == "dead_sessions"),
        "{r}"
    );
    assert!(
        failures
            .iter()
            .any(|f| f["subject"] == "a" && f["scope"] == "rig" && f["step"] == "refinery"),
        "{r}"
    );
    assert!(
        !failures
            .iter()
            .any(|f| f["subject"].as_str().unwrap().starts_with('b')),
        "{r}"
    );
    // The unsaved work was not lost: the session stays open until it can be saved.
    assert!(t.session_is(&crash_bead, "exited"));
    assert!(wt.join(format!("standin/{crash_bead}.md")).exists());

    // gt status: both problems, with their errors.
    let st = t.json(&["status"]);
    assert_eq!(st["healthy"], false);
    let problems = st["problems"].as_array().unwrap();
    let agent_p = problems
        .iter()
        .find(|p| p["kind"] == "agent_failing" && p["agent"] == agent.as_str())
        .unwrap_or_else(|| panic!("no agent_failing problem: {st}"));
    assert!(
        agent_p["detail"]
            .as_str()
            .unwrap()
            .contains("dead_sessions failed"),
        "{agent_p}"
    );
    let rig_p = problems
        .iter()
        .find(|p| p["kind"] == "rig_failing" && p["agent"] == "a")
        .unwrap_or_else(|| panic!("no rig_failing problem: {st}"));
    assert!(
        rig_p["detail"].as_str().unwrap().contains("no branch main"),
        "{rig_p}"
    );
    // gt agents: the agent shows the problem and its error.
    let agents = t.json(&["agents"]);
    let row = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["bead"] == crash_bead.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["problem"], "agent_failing", "{row}");
    assert!(
        row["problem_detail"]
            .as_str()
            .unwrap()
            .contains("dead_sessions failed"),
        "{row}"
    );
    // gt trail: one event per fault (a second failing patrol adds none).
    let _ = t.json(&["deacon", "patrol", "--once"]);
    let trail = t.kinds(&[]);
    assert_eq!(
        trail.iter().filter(|k| *k == "deacon.agent_failed").count(),
        1,
        "{trail:?}"
    );
    assert_eq!(
        trail.iter().filter(|k| *k == "deacon.rig_failed").count(),
        1,
        "{trail:?}"
    );
    let ev = &t.json(&["trail", "--kind", "deacon.agent_failed"])[0];
    assert_eq!(ev["payload"]["subject"], agent.as_str(), "{ev}");
    assert!(!ev["payload"]["error"].as_str().unwrap().is_empty(), "{ev}");
    // The human text view says so too.
    let text = t.ok(&["status"]);
    assert!(text.contains("agent_failing"), "{text}");

    // Repaired: the next patrol saves the work, the problems are over.
    std::fs::write(wt.join(".git"), dotgit).unwrap();
    git(
        &t.repo("a"),
        &["update-ref", "refs/heads/main", main_a.trim()],
    );
    let r = t.json(&["deacon", "patrol", "--once"]);
    let kinds = action_kinds(&r);
    assert!(kinds.contains(&"deacon.saved_work".to_string()), "{r}");
    assert!(r["failures"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(t.bead_status(&bead_a), "closed", "{r}");
    let st = t.json(&["status"]);
    assert!(
        !st["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "agent_failing" || p["kind"] == "rig_failing"),
        "{st}"
    );
    assert!(t.kinds(&[]).contains(&"deacon.recovered".to_string()));
}

/// The pids a gate script appended to `file` (`start PID` lines).
fn gate_pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("start ")?.trim().parse().ok())
        .collect()
}

/// A process that runs (not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s[s.rfind(')').unwrap() + 1..].split_whitespace().next();
            !matches!(state, Some("Z") | Some("X"))
        })
        .unwrap_or(false)
}

fn deacon_pid(t: &TestTown) -> u32 {
    t.json(&["deacon", "status"])["pid"].as_u64().unwrap() as u32
}

/// A gate that records its pid, notes any earlier gate still running
/// (`overlap PID`), and sleeps `secs` on its runs number `long` (counted from
/// 0), one second on the others.
fn slow_gate(t: &TestTown, rig: &str, secs: u32, long: &[usize]) -> PathBuf {
    let file = t.dir.path().join(format!("gate-{rig}.log"));
    let script = t.dir.path().join(format!("gate-{rig}.sh"));
    let long: Vec<String> = long.iter().map(|n| n.to_string()).collect();
    std::fs::write(&file, "").unwrap();
    std::fs::write(
        &script,
        format!(
            "for p in $(sed -n 's/^start //p' {f}); do\n  \
             if [ -e /proc/$p ] && ! grep -q ') [ZX] ' /proc/$p/stat; then echo \"overlap $p\" >> {f}; fi\n\
             done\nn=$(grep -c '^start ' {f})\necho \"start $$\" >> {f}\n\
             case \"$n\" in {long}) sleep {secs};; *) sleep 1;; esac\necho \"end $$\" >> {f}\n",
            f = file.display(),
            long = long.join("|"),
        ),
    )
    .unwrap();
    t.ok(&[
        "rig",
        "config",
        rig,
        "gates.slow",
        &format!("sh {}", script.display()),
    ]);
    file
}

#[test]
fn an_agent_is_saved_and_restarted_while_a_long_gate_runs() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    let gate = slow_gate(&t, "r", 25, &[0]);
    let done = t.sling("r", "merge me", "standin");
    let bead = done["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "merging", |t| t.bead_status(&bead) == "merging");
    t.ok(&["up"]);
    t.wait_for(20, "the gate to start", |_| !gate_pids(&gate).is_empty());
    let gate_started = Instant::now();
    // A crash late enough that sling's launch watch never sees it, even on a
    // loaded machine (the shared stand-in crashes after 1.5 s).
    let gt = crate::common::gt_bin();
    t.set_agent(
        "standin-crash-late",
        &format!(
            "{} agent-standin --behavior crash --delay-ms 4000",
            gt.display()
        ),
    );
    let crash = t.sling("r", "crash during the gate", "standin-crash-late");
    let crash_bead = crash["bead"].as_str().unwrap().to_string();
    t.wait_for(20, "the crash saved and restarted", |t| {
        let k = t.kinds(&["--bead", &crash_bead]);
        k.contains(&"deacon.saved_work".to_string()) && k.contains(&"deacon.restarted".to_string())
    });
    // All of it while the gate still runs.
    assert!(
        gate_started.elapsed() < Duration::from_secs(24),
        "took {:?}",
        gate_started.elapsed()
    );
    let text = std::fs::read_to_string(&gate).unwrap();
    assert!(!text.contains("end "), "the gate ended already: {text}");
    assert_eq!(t.bead_status(&bead), "merging");
    // And the merge lands once the gate passes.
    t.wait_for(40, "the merge", |t| t.bead_status(&bead) == "closed");
    t.ok(&["down"]);
}

#[test]
fn a_new_deacon_kills_the_gate_group_of_a_killed_one_before_gating_again() {
    let t = TestTown::new();
    t.with_rig("g");
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    // Gate runs 0 and 2 take a minute, run 1 a second.
    let gate = slow_gate(&t, "g", 60, &[0, 2]);
    let done = t.sling("g", "gate me", "standin");
    let bead = done["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "merging", |t| t.bead_status(&bead) == "merging");
    let main_before = git(&t.repo("g"), &["rev-parse", "main"]);
    t.ok(&["up"]);
    t.wait_for(20, "the gate to start", |_| !gate_pids(&gate).is_empty());
    let old_gate = gate_pids(&gate)[0];
    let pid = deacon_pid(&t);
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    t.wait_for(10, "the killed deacon to let go of its lock", |t| {
        t.json(&["deacon", "status"])["pid"].is_null()
    });
    // The killed deacon's gate runs on: nothing else would ever stop it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(old_gate), "the old gate died with the deacon");
    // Nothing landed: main was not moved to an unverified commit.
    assert_eq!(git(&t.repo("g"), &["rev-parse", "main"]), main_before);
    assert_eq!(t.bead_status(&bead), "merging");
    t.ok(&["up"]);
    t.wait_for(20, "a second gate", |_| gate_pids(&gate).len() >= 2);
    let text = std::fs::read_to_string(&gate).unwrap();
    assert!(!text.contains("overlap"), "two gates at once: {text}");
    assert!(!alive(old_gate), "the old gate group is still running");
    assert!(!text.contains(&format!("end {old_gate}")), "{text}");
    let killed = t.json(&["trail", "--kind", "merge.gate_killed"]);
    assert_eq!(killed.as_array().unwrap().len(), 1, "{killed}");
    assert_eq!(killed[0]["payload"]["pgid"], old_gate, "{killed}");
    // The request was retried and landed once.
    t.wait_for(30, "the merge", |t| t.bead_status(&bead) == "closed");
    let log = git(
        &t.repo("g"),
        &[
            "log",
            "--format=%s",
            &format!("{}..main", main_before.trim()),
        ],
    );
    assert_eq!(log.lines().count(), 1, "{log}");

    // `gt down` kills a running gate too: nothing outlives the deacon.
    let next = t.sling("g", "gate me too", "standin");
    let next_bead = next["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "a third gate", |_| gate_pids(&gate).len() >= 3);
    let running = gate_pids(&gate)[2];
    t.ok(&["down"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(running), "gt down left the gate running");
    assert_eq!(
        t.bead_status(&next_bead),
        "merging",
        "an interrupted gate lands nothing"
    );
    let mq = t.json(&["mq", "list", "--rig", "g"]);
    let m = mq
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["bead"] == next_bead.as_str())
        .unwrap();
    assert_eq!(m["status"], "queued", "{mq}");
    assert!(gate_runs_empty(&t), "a stopped gate is still recorded");
}

/// Whether the store records no running gate group.
fn gate_runs_empty(t: &TestTown) -> bool {
    use gt_lib::store::deacon::DeaconStore;
    t.store().gate_runs().unwrap().is_empty()
}

#[test]
fn down_all_and_rig_remove_go_on_past_a_broken_worktree() {
    let t = TestTown::new();
    t.with_rig("r");
    let broken = t.sling("r", "broken one", "standin-hang");
    let fine = t.sling("r", "fine one", "standin-hang");
    let (wt_broken, wt_fine) = (
        t.worktree("r", broken["polecat"].as_str().unwrap()),
        t.worktree("r", fine["polecat"].as_str().unwrap()),
    );
    for wt in [&wt_broken, &wt_fine] {
        std::fs::write(wt.join("unsaved.txt"), "precious\n").unwrap();
    }
    break_worktree(&wt_broken);
    let d = t.json(&["down", "--all"]);
    // Both sessions ended; the fine one saved; the broken one reported.
    assert_eq!(d["sessions_ended"].as_array().unwrap().len(), 2, "{d}");
    assert_eq!(d["work_saved"][0], fine["agent"], "{d}");
    assert_eq!(d["not_saved"][0]["agent"], broken["agent"], "{d}");
    assert!(!d["not_saved"][0]["error"].as_str().unwrap().is_empty());
    assert_eq!(
        std::fs::read_to_string(wt_broken.join("unsaved.txt")).unwrap(),
        "precious\n"
    );
    let files = t.files_of("r", fine["branch"].as_str().unwrap());
    assert!(files.contains("unsaved.txt"), "{files}");
    // rig remove: refused while a worktree cannot be read, names it, writes nothing.
    let err = t.refuses(&["rig", "remove", "r"]);
    assert!(err.contains("cannot be read"), "{err}");
    // With --force the rig goes, and the unreadable worktree is kept as it was.
    let r = t.json(&["rig", "remove", "r", "--force"]);
    let kept = PathBuf::from(r["kept_worktrees"][0].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(kept.join("unsaved.txt")).unwrap(),
        "precious\n"
    );
    assert!(!t.root.join("r").exists());
}

#[test]
fn refinery_run_goes_on_past_a_broken_rig() {
    let t = TestTown::new();
    t.with_rig("a");
    t.with_rig("b");
    let a = t.sling("a", "a work", "standin");
    let b = t.sling("b", "b work", "standin");
    let (bead_a, bead_b) = (
        a["bead"].as_str().unwrap().to_string(),
        b["bead"].as_str().unwrap().to_string(),
    );
    t.wait_for(60, "both merging", |t| {
        t.bead_status(&bead_a) == "merging" && t.bead_status(&bead_b) == "merging"
    });
    git(&t.repo("a"), &["update-ref", "-d", "refs/heads/main"]);
    // Rig a (first by name) fails; rig b still lands; the failure is reported.
    let out = t.run(&["refinery", "run", "--once"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no branch main"), "{stderr}");
    assert_eq!(t.bead_status(&bead_b), "closed");
    assert_eq!(t.bead_status(&bead_a), "merging");
}

#[test]
fn the_daemon_reports_a_broken_rig_and_lands_the_others() {
    let t = TestTown::new();
    t.with_rig("a");
    t.with_rig("b");
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    let a = t.sling("a", "a work", "standin");
    let bead_a = a["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "a merging", |t| t.bead_status(&bead_a) == "merging");
    git(&t.repo("a"), &["update-ref", "-d", "refs/heads/main"]);
    t.ok(&["up"]);
    let rig_failing = |t: &TestTown| {
        t.json(&["status"])["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "rig_failing" && p["agent"] == "a")
    };
    t.wait_for(20, "rig a failing", rig_failing);
    // Meanwhile rig b's work is slung, done and landed by the same deacon.
    let b = t.sling("b", "b work", "standin");
    let bead_b = b["bead"].as_str().unwrap().to_string();
    t.wait_for(60, "b landed", |t| t.bead_status(&bead_b) == "closed");
    assert!(rig_failing(&t));
    assert_eq!(t.json(&["deacon", "status"])["up"], true);
    // Nothing left to do for rig a: its fault is over.
    let id = t.json(&["mq", "list", "--rig", "a"])[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    t.ok(&["mq", "remove", &id]);
    t.wait_for(20, "rig a's fault over", |t| !rig_failing(t));
    t.ok(&["down"]);
    let kinds = t.kinds(&[]);
    assert_eq!(
        kinds.iter().filter(|k| *k == "deacon.rig_failed").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"deacon.recovered".to_string()), "{kinds:?}");
}

/// Issue 10 follow-up: agents that break their own worktree — `.git` pointed
/// at another agent's git metadata, `.git` made a symlink, the worktree's
/// gitdir deleted — are each their own fault; the patrol still saves and
/// restarts another agent's crash and dispatches a queued bead, and nothing
/// of theirs lands on another agent's branch.
#[test]
fn agents_that_break_their_own_worktree_do_not_stop_the_patrol() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    let slung: Vec<Value> = (0..4)
        .map(|i| t.sling("r", &format!("crash {i}"), "standin-crash"))
        .collect();
    let field = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    for s in &slung {
        let bead = field(s, "bead");
        t.wait_for(20, "the crash", |t| t.session_is(&bead, "exited"));
    }
    let wt = |s: &Value| t.worktree("r", &field(s, "polecat"));
    let (victim, hostile) = (&slung[0], &slung[1..]);
    let victim_wt = wt(victim);
    let victim_dotgit = std::fs::read_to_string(victim_wt.join(".git")).unwrap();
    let victim_gitdir = victim_dotgit.trim().strip_prefix("gitdir: ").unwrap();
    // 1: its `.git` leads to the victim's git metadata (same rig repository).
    std::fs::write(wt(&hostile[0]).join(".git"), &victim_dotgit).unwrap();
    // 2: its `.git` is a symlink to the victim's `.git`.
    let dotgit = wt(&hostile[1]).join(".git");
    std::fs::remove_file(&dotgit).unwrap();
    std::os::unix::fs::symlink(victim_wt.join(".git"), &dotgit).unwrap();
    // 3: its gitdir in the rig repository is gone.
    let own = std::fs::read_to_string(wt(&hostile[2]).join(".git")).unwrap();
    let own = PathBuf::from(own.trim().strip_prefix("gitdir: ").unwrap());
    std::fs::remove_dir_all(&own).unwrap();
    assert!(Path::new(victim_gitdir).is_dir());
    let victim_head = git(&t.repo("r"), &["rev-parse", &field(victim, "branch")]);
    // A queued bead (the town is at capacity when it is slung).
    let busy = t.sling("r", "busy", "standin-hang");
    t.wait_for(20, "the busy agent", |t| {
        t.session_is(&field(&busy, "bead"), "running")
    });
    t.ok(&["config", "set", "scheduler.max_polecats", "1"]);
    let queued = t.sling("r", "queued work", "standin-hang");
    assert_eq!(queued["queued"], true, "{queued}");
    let queued_bead = field(&queued, "bead");
    t.ok(&["config", "set", "scheduler.max_polecats", "4"]);

    let failed_for = |r: &Value, s: &Value| {
        r["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["subject"] == s["agent"] && f["scope"] == "agent")
    };
    let r = t.json(&["deacon", "patrol", "--once"]);
    let kinds = action_kinds(&r);
    assert!(kinds.contains(&"deacon.dispatched".to_string()), "{r}");
    assert_ne!(t.bead_status(&queued_bead), "queued", "{r}");
    let saved: Vec<&Value> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "deacon.saved_work")
        .collect();
    assert_eq!(saved.len(), 1, "{r}");
    assert_eq!(saved[0]["agent"], victim["agent"], "{r}");
    for h in hostile {
        assert!(failed_for(&r, h), "{h} did not fail: {r}");
    }
    assert!(!failed_for(&r, victim), "{r}");
    // The victim's branch holds its own saved work, nothing of the others.
    let branch = field(victim, "branch");
    let files = git(
        &t.repo("r"),
        &[
            "log",
            "--name-only",
            "--format=",
            &format!("{}..{branch}", victim_head.trim()),
        ],
    );
    let victim_file = format!("standin/{}.md", field(victim, "bead"));
    assert_eq!(files.trim(), victim_file, "{files}");
    // The hostile agents' unsaved work is still where they left it.
    for h in hostile {
        assert!(wt(h)
            .join(format!("standin/{}.md", field(h, "bead")))
            .exists());
        assert!(t.session_is(&field(h, "bead"), "exited"));
    }

    // After the backoff: the victim is restarted; the broken ones still fail.
    std::thread::sleep(Duration::from_millis(1100));
    let r = t.json(&["deacon", "patrol", "--once"]);
    let restarted: Vec<&Value> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "deacon.restarted")
        .collect();
    assert_eq!(restarted.len(), 1, "{r}");
    assert_eq!(restarted[0]["agent"], victim["agent"], "{r}");
    for h in hostile {
        assert!(failed_for(&r, h), "{h} did not fail: {r}");
    }
    // Each broken one is a problem of its own.
    let st = t.json(&["status"]);
    for h in hostile {
        assert!(
            st["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["kind"] == "agent_failing" && p["agent"] == h["agent"]),
            "{h}: {st}"
        );
    }
}
