//! The deacon and the scheduler, end to end with the stand-in agent in real
//! tmux (each town's private server is killed when the test ends): restarts,
//! saves, nudges, escalations, capacity, convoys. One fault never stopping
//! the town is in `fault_isolation`.

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
