//! Issue 6: the deacon and the scheduler, end to end with the stand-in agent
//! in real tmux (each town's private server is killed when the test ends).
//!
//! Issue 10 (part B): one fault never stops the town. A broken worktree or a
//! broken rig is that agent's or rig's problem, everything else is served in
//! the same patrol; the refinery runs beside the patrol; gate process groups
//! are recorded and never outlive the refinery that started them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{action_kinds, git, lines_json, TestTown};
use serde_json::Value;

fn open_sessions(t: &TestTown, bead: &str) -> usize {
    t.json(&["agents", "--recent", "0"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["bead"] == bead && a["ended_at"].is_null())
        .count()
}

#[test]
fn crash_is_saved_in_a_wip_commit_and_restarted() {
    let t = TestTown::new();
    t.with_rig("r");
    // The uncommitted file is now in a marked WIP commit on the branch.
    let (s, kinds) = t.crash_and_save("r");
    let bead = s["bead"].as_str().unwrap().to_string();
    assert!(
        kinds.contains(&"deacon.session_dead".to_string()),
        "{kinds:?}"
    );
    // After the backoff, the next patrol restarts it on the same polecat.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let kinds = t.patrol();
    assert!(kinds.contains(&"deacon.restarted".to_string()), "{kinds:?}");
    assert_eq!(open_sessions(&t, &bead), 1);
    let sessions = t.json(&["polecat", "show", s["agent"].as_str().unwrap()])["sessions"].clone();
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(sessions[0]["end_reason"], "exited");
    // Patrolling again at once does not restart twice.
    let kinds = t.patrol();
    assert!(
        !kinds.contains(&"deacon.restarted".to_string()),
        "{kinds:?}"
    );
    assert_eq!(open_sessions(&t, &bead), 1);
}

#[test]
fn exit_without_done_is_released_after_max_restarts_with_an_escalation() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    t.ok(&["config", "set", "deacon.max_restarts", "1"]);
    let s = t.sling("r", "quit early", "standin-exit-without-done");
    let bead = s["bead"].as_str().unwrap().to_string();
    let agent = s["agent"].as_str().unwrap().to_string();
    t.wait_for(60, "the bead given back", |t| {
        let _ = t.run(&["deacon", "patrol", "--once"]);
        t.bead_status(&bead) == "open"
    });
    let pc = t.json(&["polecat", "show", &agent]);
    assert_eq!(pc["state"], "stuck");
    let kinds = t.kinds(&["--bead", &bead]);
    assert_eq!(
        kinds.iter().filter(|k| *k == "deacon.restarted").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"deacon.gave_up".to_string()), "{kinds:?}");
    // Its commits stay on the branch; the bead carries a note; human was told.
    let log = t.subjects_past_main("r", s["branch"].as_str().unwrap());
    assert!(log.contains(&bead), "{log}");
    let shown = t.json(&["show", &bead]);
    assert!(shown["comments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["text"].as_str().unwrap().contains("gave up")));
    let inbox = t.json(&["mail", "inbox", "--all"]);
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains(&agent)),
        "human was not told: {inbox}"
    );
}

#[test]
fn scheduler_caps_live_sessions_and_dispatches_by_priority() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "scheduler.max_polecats", "2"]);
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    let first = t.create("first", &["-p", "3"]);
    let second = t.create("second", &["-p", "3"]);
    let low = t.create("low", &["-p", "2"]);
    let urgent = t.create("urgent", &["-p", "0"]);
    let mid = t.create("mid", &["-p", "1"]);
    for b in [&first, &second] {
        let s = t.sling("r", b, "standin-slow");
        assert_eq!(s["queued"], false);
    }
    for b in [&low, &urgent, &mid] {
        let s = t.sling("r", b, "standin-slow");
        assert_eq!(s["queued"], true, "{s}");
        assert_eq!(t.bead_status(b), "queued");
    }
    t.ok(&["up"]);
    let all = [&first, &second, &low, &urgent, &mid];
    let mut max_live = 0;
    // The deacon's refinery lands them too: merging, then closed.
    t.wait_for(90, "all five done", |t| {
        let live = t.json(&["scheduler", "status"])["live"].as_u64().unwrap();
        max_live = max_live.max(live);
        all.iter()
            .all(|b| matches!(t.bead_status(b).as_str(), "merging" | "closed"))
    });
    t.ok(&["down"]);
    assert!(max_live <= 2, "{max_live} live sessions");
    let order: Vec<String> = t
        .json(&["trail", "--kind", "sling", "-n", "100"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["bead"].as_str().unwrap().to_string())
        .collect();
    if order.len() != 5 {
        eprintln!(
            "{}",
            String::from_utf8_lossy(&t.run(&["trail", "--bead", &urgent, "-n", "100"]).stdout)
        );
        eprintln!(
            "{}",
            String::from_utf8_lossy(&t.run(&["trail", "--kind", "deacon", "-n", "100"]).stdout)
        );
    }
    assert_eq!(
        order,
        [
            first.clone(),
            second.clone(),
            urgent.clone(),
            mid.clone(),
            low.clone()
        ]
    );
}

#[test]
fn up_down_and_status() {
    let t = TestTown::new();
    assert_eq!(t.json(&["deacon", "status"])["up"], false);
    let up = t.json(&["up"]);
    assert_eq!(up["already_running"], false);
    let pid = up["pid"].as_u64().unwrap();
    let st = t.json(&["deacon", "status"]);
    assert_eq!(st["up"], true, "{st}");
    assert_eq!(st["pid"], pid);
    // Twice is fine and says so.
    assert_eq!(t.json(&["up"])["already_running"], true);
    let down = t.json(&["down"]);
    assert_eq!(down["was_running"], true);
    assert_eq!(t.json(&["deacon", "status"])["up"], false);
    let kinds = t.kinds(&["--kind", "deacon"]);
    assert_eq!(kinds, ["deacon.started", "deacon.stopped"]);
    assert!(std::fs::metadata(t.root.join(".gt/logs/deacon.log")).is_ok());
}

#[test]
fn down_all_saves_work_and_ends_sessions() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = t.sling("r", "hold", "standin-hang");
    let wt = t.worktree("r", s["polecat"].as_str().unwrap());
    std::fs::write(wt.join("unsaved.txt"), "precious\n").unwrap();
    let d = t.json(&["down", "--all"]);
    assert_eq!(d["sessions_ended"].as_array().unwrap().len(), 1);
    assert_eq!(d["work_saved"].as_array().unwrap().len(), 1);
    let files = t.files_of("r", s["branch"].as_str().unwrap());
    assert!(files.contains("unsaved.txt"), "{files}");
    assert_eq!(open_sessions(&t, s["bead"].as_str().unwrap()), 0);
}

#[test]
fn kill_9_during_patrols_never_duplicates_or_loses_work() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    t.ok(&["config", "set", "deacon.restart_backoff", "1s"]);
    t.ok(&["config", "set", "deacon.max_restarts", "20"]);
    let mut beads = Vec::new();
    for i in 0..3 {
        beads.push(t.sling("r", &format!("crashy {i}"), "standin-crash"));
    }
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..8 {
        t.ok(&["up"]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_millis(300 + seed % 1500));
        let pid = t.json(&["deacon", "status"])["pid"].as_u64();
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
        t.wait_for(10, "the killed deacon to let go of its lock", |t| {
            t.json(&["deacon", "status"])["pid"].is_null()
        });
    }
    // Invariants: one open session at most per bead and per polecat, every
    // live tmux session has an open record, no bead is held by nobody, and
    // every crash's file is committed on its branch or still in the worktree.
    let agents = t.json(&["agents", "--recent", "0"]);
    let open: Vec<&Value> = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ended_at"].is_null())
        .collect();
    for b in &beads {
        let id = b["bead"].as_str().unwrap();
        assert!(
            open.iter().filter(|a| a["bead"] == id).count() <= 1,
            "two open sessions for {id}"
        );
        let status = t.bead_status(id);
        if status == "in_progress" || status == "hooked" {
            let pc = t.json(&["polecat", "show", b["agent"].as_str().unwrap()]);
            assert_eq!(
                pc["bead"], id,
                "{id} is {status} but its polecat does not hold it"
            );
        }
        let wt = t.worktree("r", b["polecat"].as_str().unwrap());
        let file = format!("standin/{id}.md");
        let committed = git(
            &t.repo("r"),
            &[
                "log",
                "--format=%H",
                b["branch"].as_str().unwrap(),
                "--",
                &file,
            ],
        );
        assert!(
            !committed.trim().is_empty() || wt.join(&file).exists(),
            "the work of {id} is gone"
        );
    }
    let mut polecats: Vec<&str> = open.iter().map(|a| a["agent"].as_str().unwrap()).collect();
    let n = polecats.len();
    polecats.sort();
    polecats.dedup();
    assert_eq!(n, polecats.len(), "a polecat has two open sessions");
    let sock = gt_lib::tmux::socket_name_for(&t.root);
    let ls = std::process::Command::new("tmux")
        .args(["-L", &sock, "list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    for name in String::from_utf8_lossy(&ls.stdout).lines() {
        assert!(
            open.iter().any(|a| a["session"] == name),
            "tmux session {name} has no open record"
        );
    }
}

#[test]
fn hang_is_nudged_then_escalated() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.stall_after", "2s"]);
    t.ok(&["config", "set", "deacon.escalate_after", "4s"]);
    let s = t.sling("r", "hang forever", "standin-hang");
    let bead = s["bead"].as_str().unwrap().to_string();
    let kinds_of = |t: &TestTown| t.kinds(&["--bead", &bead, "--kind", "deacon"]);
    t.wait_for(30, "a nudge", |t| {
        let _ = t.run(&["deacon", "patrol", "--once"]);
        kinds_of(t).contains(&"deacon.nudged".to_string())
    });
    // The reminder was typed into the agent's session.
    t.wait_for(5, "the reminder on screen", |t| {
        String::from_utf8_lossy(
            &t.run(&["peek", s["agent"].as_str().unwrap(), "-n", "50"])
                .stdout,
        )
        .contains("gt deacon: you hold")
    });
    t.wait_for(30, "an escalation", |t| {
        let _ = t.run(&["deacon", "patrol", "--once"]);
        kinds_of(t).contains(&"deacon.escalated".to_string())
    });
    let kinds = kinds_of(&t);
    // Reminders come at most once per `stall_after` (2s) before the
    // escalation at `escalate_after` (4s); the escalation comes once.
    let nudges = kinds.iter().filter(|k| *k == "deacon.nudged").count();
    assert!((1..=3).contains(&nudges), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "deacon.escalated").count(),
        1,
        "{kinds:?}"
    );
    for _ in 0..3 {
        let _ = t.run(&["deacon", "patrol", "--once"]);
    }
    assert_eq!(
        kinds_of(&t)
            .iter()
            .filter(|k| *k == "deacon.escalated")
            .count(),
        1
    );
    // Nothing was killed: the agent still holds its bead.
    assert_eq!(t.bead_status(&bead), "in_progress");
    let inbox = t.json(&["mail", "inbox", "--all"]);
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"].as_str().unwrap_or("").contains("stalled")),
        "{inbox}"
    );
}

#[test]
fn waiting_for_input_mails_human_once_and_approves_nothing() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = t.sling("r", "ask first", "standin-prompt");
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(20, "the question on screen", |t| {
        String::from_utf8_lossy(&t.run(&["peek", s["agent"].as_str().unwrap()]).stdout)
            .contains("(y/n)")
    });
    for _ in 0..3 {
        let _ = t.run(&["deacon", "patrol", "--once"]);
    }
    let inbox = t.json(&["mail", "inbox", "--all"]);
    let asks: Vec<&Value> = inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .contains("waits for input")
        })
        .collect();
    assert_eq!(asks.len(), 1, "{inbox}");
    assert!(
        asks[0]["body"].as_str().unwrap().contains("(y/n)"),
        "the screen excerpt is in the mail"
    );
    // Never auto-approved: the agent is still waiting, nothing was committed.
    assert_eq!(t.bead_status(&bead), "in_progress");
    let log = t.subjects_past_main("r", s["branch"].as_str().unwrap());
    assert!(log.trim().is_empty(), "{log}");
}

#[test]
fn queued_nudges_are_delivered_when_the_agent_is_idle() {
    let t = TestTown::new();
    t.with_rig("r");
    let s = t.sling("r", "wait for word", "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    let q = t.json(&[
        "nudge",
        &agent,
        "--mode",
        "queue",
        "--",
        "word from the overseer",
    ]);
    assert_eq!(q["status"], "queued", "{q}");
    // Not idle yet (no report): the patrol leaves it queued.
    let _ = t.run(&["deacon", "patrol", "--once"]);
    assert!(
        !String::from_utf8_lossy(&t.run(&["peek", &agent, "-n", "50"]).stdout)
            .contains("word from the overseer")
    );
    // The agent's hook reports idle: the next patrol types it in, once.
    t.ok_env(
        &[("GT_AGENT", &agent)],
        &["agent-report", "--state", "idle"],
    );
    // `gt agents` says how it knows: from the hook.
    let view = t.json(&["agents"]);
    let me = view
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == agent.as_str() && a["ended_at"].is_null())
        .unwrap()
        .clone();
    assert_eq!(me["state_source"], "hook", "{me}");
    let _ = t.run(&["deacon", "patrol", "--once"]);
    t.wait_for(5, "the nudge on screen", |t| {
        String::from_utf8_lossy(&t.run(&["peek", &agent, "-n", "50"]).stdout)
            .contains("word from the overseer")
    });
    let _ = t.run(&["deacon", "patrol", "--once"]);
    let delivered = t.json(&["trail", "--kind", "nudge.delivered", "-n", "50"]);
    assert_eq!(delivered.as_array().unwrap().len(), 1, "{delivered}");
}

#[test]
fn the_daemon_lands_a_convoy_by_itself() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.interval", "1s"]);
    let out = t.ok(&[
        "--json",
        "sling",
        "alpha work",
        "beta work",
        "gamma work",
        "r",
        "--agent",
        "standin",
        "--convoy",
        "launch",
    ]);
    let slung = lines_json(&out);
    assert_eq!(slung.len(), 3);
    assert!(slung.iter().all(|s| s["convoy"] == "launch"), "{out}");
    t.ok(&["up"]);
    let beads: Vec<String> = slung
        .iter()
        .map(|s| s["bead"].as_str().unwrap().to_string())
        .collect();
    t.wait_for(90, "all three merged by the deacon's refinery", |t| {
        beads.iter().all(|b| t.bead_status(b) == "closed")
    });
    t.ok(&["down"]);
    let log = git(&t.repo("r"), &["log", "--format=%s", "main"]);
    for b in &beads {
        assert!(log.contains(b.as_str()), "{b} is not on main:\n{log}");
    }
    let convoy = t.json(&["convoy", "show", "launch"]);
    assert_eq!(convoy["status"], "landed", "{convoy}");
    // Without --convoy, two or more items still travel together.
    let two = lines_json(&t.ok(&[
        "--json",
        "sling",
        "one",
        "two",
        "r",
        "--agent",
        "standin-hang",
    ]));
    assert!(two[0]["convoy"].is_string() && two[0]["convoy"] == two[1]["convoy"]);
    t.refuses(&["sling", "x", "r", "--agent", "standin", "--convoy=-bad"]);
}

#[test]
fn a_deacon_whose_town_is_removed_exits() {
    let t = TestTown::new();
    let pid = t.json(&["up"])["pid"].as_u64().unwrap();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists());
    std::fs::remove_dir_all(&t.root).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The daemon is not our child: it is gone when /proc shows no process or a zombie.
    let alive = || {
        std::fs::read_to_string(proc_dir.join("stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    };
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!alive(), "the deacon of a removed town is still running");
}

#[test]
fn a_rate_limited_runtime_holds_its_dispatch_until_the_window_passes() {
    let t = TestTown::new();
    t.with_rig("r");
    t.ok(&["config", "set", "deacon.rate_limit_wait", "3s"]);
    t.ok(&["config", "set", "scheduler.max_polecats", "2"]);
    // A fake `codex` (preset rate-limit message "hit your usage limit").
    let path = t.fake_program(
        "codex",
        "echo \"You've hit your usage limit. Try again later.\"\nexec sleep 600\n",
    );
    let env = [("PATH", path.as_str())];
    let sling_codex = |what: &str| {
        lines_json(&t.ok_env(&env, &["--json", "sling", what, "r", "--agent", "codex"])).remove(0)
    };
    let patrol_kinds = || -> Vec<String> {
        let out = t.ok_env(&env, &["--json", "deacon", "patrol", "--once"]);
        action_kinds(&serde_json::from_str::<Value>(&out).unwrap())
    };
    let first = sling_codex("limited");
    t.sling("r", "someone else", "standin-hang");
    // At capacity: the next codex bead is queued.
    let queued = sling_codex("waits");
    assert_eq!(queued["queued"], true, "{queued}");
    let bead = queued["bead"].as_str().unwrap().to_string();
    t.wait_for(10, "the limit message on screen", |t| {
        String::from_utf8_lossy(&t.run(&["peek", first["agent"].as_str().unwrap()]).stdout)
            .contains("usage limit")
    });
    let seen = std::time::Instant::now();
    let kinds = patrol_kinds();
    assert!(
        kinds.contains(&"deacon.rate_limited".to_string()),
        "{kinds:?}"
    );
    // Places free up, but codex stays held while its window lasts, even
    // though the session that hit the limit is gone.
    t.ok(&["down", "--all"]);
    let kinds = patrol_kinds();
    assert!(
        !kinds.contains(&"deacon.dispatched".to_string()),
        "{kinds:?}"
    );
    assert_eq!(t.bead_status(&bead), "queued");
    // After the window: dispatch resumes.
    std::thread::sleep(std::time::Duration::from_millis(3100).saturating_sub(seen.elapsed()));
    let kinds = patrol_kinds();
    assert!(
        kinds.contains(&"deacon.rate_limit_over".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"deacon.dispatched".to_string()),
        "{kinds:?}"
    );
    assert_ne!(t.bead_status(&bead), "queued");
}

// One fault never stops the town (issue 10, part B).

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
