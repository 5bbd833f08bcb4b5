//! Issue 3 end to end: rigs, polecats, sling → stand-in agent in real tmux →
//! done, with real git. Every test's tmux server is private to its town and
//! killed when the test ends (see `TestTown`'s Drop).

use crate::common::{git, lines_json, TestTown};
use serde_json::Value;

#[test]
fn five_tasks_sling_to_done() {
    let t = TestTown::new();
    t.with_rig("demo");
    let tasks = [
        "task one",
        "task two",
        "task three",
        "task four",
        "task five",
    ];
    let mut args = vec!["--json", "sling"];
    args.extend(tasks);
    args.extend(["demo", "--agent", "standin"]);
    let slung = lines_json(&t.ok(&args));
    assert_eq!(slung.len(), 5);
    let mut polecats: Vec<&str> = slung
        .iter()
        .map(|s| s["polecat"].as_str().unwrap())
        .collect();
    polecats.sort();
    polecats.dedup();
    assert_eq!(polecats.len(), 5, "one polecat per item");
    for s in &slung {
        for k in ["bead", "rig", "polecat", "agent", "branch", "session"] {
            assert!(s[k].is_string(), "sling output lacks {k}: {s}");
        }
        assert_eq!(s["rig"], "demo");
        assert_eq!(
            s["branch"],
            format!(
                "polecat/{}/{}",
                s["polecat"].as_str().unwrap(),
                s["bead"].as_str().unwrap()
            )
        );
    }
    let beads: Vec<String> = slung
        .iter()
        .map(|s| s["bead"].as_str().unwrap().to_string())
        .collect();
    t.wait_for(60, "5 beads merging", |t| {
        beads.iter().all(|b| t.bead_status(b) == "merging")
    });

    // 5 merge requests with the right heads.
    let mrs = t.store();
    let mrs = gt_lib::store::WorkStore::list_merge_requests(&mrs, Some("demo")).unwrap();
    assert_eq!(mrs.len(), 5);
    let repo = t.repo("demo");
    for (s, title) in slung.iter().zip(tasks) {
        let bead = s["bead"].as_str().unwrap();
        let branch = s["branch"].as_str().unwrap();
        let mr = mrs
            .iter()
            .find(|m| m.bead == bead)
            .expect("merge request per bead");
        assert_eq!(mr.branch, branch);
        assert_eq!(mr.status.as_str(), "queued");
        let tip = git(&repo, &["rev-parse", &format!("refs/heads/{branch}")]);
        assert_eq!(mr.head_commit, tip.trim());
        // Exactly the stand-in's commit beyond main, carrying the bead's file.
        let log = git(&repo, &["log", "--format=%s", &format!("main..{branch}")]);
        assert_eq!(log.trim(), format!("{bead}: {title}"));
        let files = git(&repo, &["show", "--name-only", "--format=", branch]);
        assert_eq!(files.trim(), format!("standin/{bead}.md"));
        // Events in order.
        let kinds = t.kinds(&["--bead", bead]);
        assert_eq!(
            kinds,
            [
                "bead.created",
                "sling",
                "session.started",
                "merge.queued",
                "session.ended",
                "done"
            ],
            "{bead}"
        );
    }
    // Polecats idle, sessions ended (and their tmux sessions gone).
    let pcs = t.json(&["polecat", "list", "--rig", "demo"]);
    assert!(
        pcs.as_array().unwrap().iter().all(|p| p["state"] == "idle"),
        "{pcs}"
    );
    t.wait_for(10, "tmux sessions gone", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["live"] == "ended")
    });
    let agents = t.json(&["agents"]);
    assert_eq!(agents.as_array().unwrap().len(), 5);
    assert!(agents
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["end_reason"] == "done"));

    // An idle polecat's worktree is reused for the next bead, on a fresh
    // branch from the current tip of main.
    let again = lines_json(&t.ok(&["--json", "sling", "task six", "demo", "--agent", "standin"]));
    assert!(polecats.contains(&again[0]["polecat"].as_str().unwrap()));
    let b6 = again[0]["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "sixth bead merging", |t| {
        t.bead_status(&b6) == "merging"
    });
}

#[test]
fn crash_and_exit_without_done_keep_work_and_can_resume() {
    let t = TestTown::new();
    t.with_rig("r");
    // Crash: uncommitted work stays in the worktree; the bead stays in progress.
    let s = &t.sling("r", "crashy task", "standin-crash");
    let bead = s["bead"].as_str().unwrap().to_string();
    let agent = s["agent"].as_str().unwrap().to_string();
    t.wait_for(20, "crash seen", |t| t.session_is(&bead, "exited"));
    let a = t.json(&["agents"]);
    let view = a
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["bead"] == bead.as_str())
        .unwrap();
    assert_eq!(view["exit_code"], 3);
    assert_eq!(t.bead_status(&bead), "in_progress");
    let wt = t.worktree("r", s["polecat"].as_str().unwrap());
    let status = git(&wt, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        status.contains(&format!("standin/{bead}.md")),
        "uncommitted work kept: {status}"
    );
    assert_eq!(t.json(&["polecat", "show", &agent])["state"], "working");

    // Resume on the same polecat, worktree and branch with a finishing agent:
    // it commits everything (the crash's leftovers included) and is done.
    let r = &lines_json(&t.ok(&["--json", "resume", &bead, "--agent", "standin"]))[0];
    assert_eq!(r["agent"], agent.as_str());
    assert_eq!(r["branch"], s["branch"]);
    t.wait_for(30, "resumed bead merging", |t| {
        t.bead_status(&bead) == "merging"
    });
    let sessions = t.json(&["polecat", "show", &agent])["sessions"].clone();
    let reasons: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["end_reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, ["superseded", "done"]);

    // Exit without done: the commit is on the branch, the bead stays in progress.
    let s = &t.sling("r", "quitter task", "standin-exit-without-done");
    let bead = s["bead"].as_str().unwrap().to_string();
    let branch = s["branch"].as_str().unwrap().to_string();
    t.wait_for(20, "exit seen", |t| t.session_is(&bead, "exited"));
    assert_eq!(t.bead_status(&bead), "in_progress");
    let log = t.subjects_past_main("r", &branch);
    assert!(log.contains(&bead), "commit kept on the branch: {log}");
}

#[test]
fn unknown_agent_command_returns_bead_and_polecat() {
    let t = TestTown::new();
    t.with_rig("r");
    t.set_agent("ghost", "definitely-not-installed-agent --go");
    let id = t.create("ghost work", &[]);
    let err = t.fails(&["sling", &id, "r", "--agent", "ghost"], 1);
    assert!(
        err.contains("definitely-not-installed-agent") && err.contains("not found"),
        "{err}"
    );
    assert_eq!(t.bead_status(&id), "open");
    assert!(t.json(&["show", &id])["assignee"].is_null());
    let pcs = t.json(&["polecat", "list"]);
    assert!(
        pcs.as_array().unwrap().iter().all(|p| p["state"] == "idle"),
        "{pcs}"
    );
    // An agent that dies at once is reported the same way.
    t.set_agent("dies", "sh -c 'echo boom; exit 7'");
    let err = t.fails(&["sling", &id, "r", "--agent", "dies"], 1);
    assert!(err.contains("exit code 7"), "{err}");
    assert_eq!(t.bead_status(&id), "open");
    let trail = t.json(&["trail", "--bead", &id]);
    let kinds: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bead.released"), "{kinds:?}");
}

#[test]
fn hostile_sling_input_is_inert() {
    let t = TestTown::new();
    t.with_rig("r");
    let text = "$(touch PWNED); touch PWNED2 `touch PWNED3` #{pane_id} ;";
    let s = &t.sling("r", text, "standin");
    let bead = s["bead"].as_str().unwrap().to_string();
    assert_eq!(t.json(&["show", &bead])["title"], text);
    t.wait_for(30, "merging", |t| t.bead_status(&bead) == "merging");
    for dir in [
        t.root.clone(),
        t.worktree("r", s["polecat"].as_str().unwrap()),
        t.home.clone(),
    ] {
        for f in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(
                !dir.join(f).exists(),
                "{f} was created in {}",
                dir.display()
            );
        }
    }
    // Invalid names and sources are refused and leave nothing behind.
    for name in [
        "..",
        "a/b",
        "a:b",
        "A",
        "a b",
        ".hidden",
        "-x",
        &"x".repeat(40),
    ] {
        t.refuses(&[
            "rig",
            "add",
            "--",
            name,
            t.dir.path().join("src-r").to_str().unwrap(),
        ]);
    }
    let not_repo = t.dir.path().join("plain");
    std::fs::create_dir(&not_repo).unwrap();
    t.refuses(&["rig", "add", "plain", not_repo.to_str().unwrap()]);
    assert!(!t.root.join("plain").exists());
    t.refuses(&["rig", "add", "gone", "/nonexistent/repo/path"]);
    t.refuses(&["rig", "add", "--", "opt", "--upload-pack=touch PWNED4"]);
    assert!(!t.root.join("opt").exists() && !t.home.join("PWNED4").exists());
    assert!(!t.root.join("gone").exists());
    t.refuses(&[
        "rig",
        "add",
        "r",
        t.dir.path().join("src-r").to_str().unwrap(),
    ]);
    t.refuses(&["polecat", "add", "r/../../x"]);
    t.refuses(&["polecat", "add", "r/Nux"]);
    // A closed bead cannot be slung.
    let closed = t.create("closed one", &[]);
    t.ok(&["close", &closed]);
    let err = t.refuses(&["sling", &closed, "r", "--agent", "standin"]);
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn rigs_and_polecats_commands() {
    let t = TestTown::new();
    t.with_rig("alpha");
    let rigs = t.json(&["rig", "list"]);
    assert_eq!(rigs[0]["name"], "alpha");
    assert_eq!(rigs[0]["branch"], "main");
    assert_eq!(rigs[0]["prefix"], "alp");
    assert!(t.root.join("alpha/.repo.git").is_dir());
    t.ok(&["polecat", "add", "alpha/rictus"]);
    t.refuses(&["polecat", "add", "alpha/rictus"]);
    let show = t.json(&["rig", "show", "alpha"]);
    assert_eq!(show["polecats"][0]["name"], "rictus");
    // Sling to a chosen polecat.
    let s = &t.sling("alpha/rictus", "chosen work", "standin");
    assert_eq!(s["agent"], "alpha/rictus");
    assert!(s["bead"].as_str().unwrap().starts_with("alp-"));
    let bead = s["bead"].as_str().unwrap().to_string();
    t.wait_for(30, "merging", |t| t.bead_status(&bead) == "merging");
    // The branch holds unmerged work: removal is refused, then forced with a bundle.
    t.refuses(&["polecat", "remove", "alpha/rictus"]);
    t.refuses(&["rig", "remove", "alpha"]);
    let out = t.json(&["rig", "remove", "alpha", "--force"]);
    let bundle = out["bundle"].as_str().unwrap();
    assert!(std::path::Path::new(bundle).is_file());
    let heads = git(t.dir.path(), &["bundle", "list-heads", bundle]);
    assert!(heads.contains(&format!("polecat/rictus/{bead}")), "{heads}");
    assert!(!t.root.join("alpha").exists());
    assert!(t.json(&["rig", "list"]).as_array().unwrap().is_empty());
}

#[test]
fn hook_prime_peek_and_done_rules() {
    let t = TestTown::new();
    t.with_rig("r");
    let id = t.create("Hold this", &["-d", "The description.\nSecond line."]);
    let s = &t.sling("r", &id, "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    let wt = t.worktree("r", s["polecat"].as_str().unwrap());
    // Inside the agent's world: GT_AGENT, or just the worktree as cwd.
    let hook: Value = serde_json::from_slice(
        &t.cmd()
            .env("GT_AGENT", &agent)
            .args(["--json", "hook"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(hook["bead"]["id"], id.as_str());
    assert_eq!(hook["branch"], s["branch"]);
    let out = t
        .cmd()
        .current_dir(&wt)
        .args(["--json", "hook"])
        .output()
        .unwrap();
    let hook2: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hook2["agent"], agent.as_str());
    let prime = String::from_utf8(
        t.cmd()
            .current_dir(&wt)
            .arg("prime")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for needle in [
        &id as &str,
        "Hold this",
        "The description.",
        "gt done",
        "gt mail inbox",
        "gt escalate",
        s["branch"].as_str().unwrap(),
    ] {
        assert!(prime.contains(needle), "prime lacks {needle}:\n{prime}");
    }
    assert!(prime.len() < 1500, "prime is small: {} bytes", prime.len());
    // The stand-in's screen is visible.
    t.wait_for(10, "stand-in banner", |t| {
        String::from_utf8_lossy(&t.run(&["peek", &agent]).stdout).contains("stand-in")
    });
    // Outside any agent, hook is refused clearly.
    t.refuses(&["hook"]);
    // done refuses uncommitted changes and a branch without commits.
    std::fs::write(wt.join("new.txt"), "work\n").unwrap();
    let done = |args: &[&str]| {
        t.cmd()
            .current_dir(&wt)
            .env("GT_AGENT", &agent)
            .args(args)
            .output()
            .unwrap()
    };
    let out = done(&["done"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("uncommitted"));
    std::fs::remove_file(wt.join("new.txt")).unwrap();
    let out = done(&["done"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no commits"));
    assert_eq!(t.bead_status(&id), "in_progress");
    // --wip commits the leftovers and queues the merge.
    std::fs::write(wt.join("new.txt"), "work\n").unwrap();
    let out = done(&["--json", "done", "--wip", "-m", "saved as is"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["wip_commit"].is_string());
    assert_eq!(r["commits"], 1);
    assert_eq!(r["merge_request"]["status"], "queued");
    assert_eq!(t.bead_status(&id), "merging");
    // The session is ended shortly after gt done returned.
    t.wait_for(10, "session gone", |t| {
        t.run(&["peek", &agent]).status.code() == Some(1)
    });
    assert_eq!(t.json(&["polecat", "show", &agent])["state"], "idle");
}

#[test]
fn deferred_and_no_changes_outcomes() {
    let t = TestTown::new();
    t.with_rig("r");
    let a = t.create("No code needed", &[]);
    let s = &t.sling("r", &a, "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    t.ok_env(
        &[("GT_AGENT", &agent)],
        &["done", "--no-changes", "-m", "already fixed upstream"],
    );
    let b = t.json(&["show", &a]);
    assert_eq!(b["status"], "closed");
    assert!(b["close_reason"]
        .as_str()
        .unwrap()
        .contains("already fixed upstream"));
    t.wait_for(10, "session gone", |t| {
        t.run(&["peek", &agent]).status.code() == Some(1)
    });

    let d = t.create("Later", &[]);
    let s = &t.sling("r", &d, "standin-hang");
    let agent = s["agent"].as_str().unwrap().to_string();
    t.ok_env(
        &[("GT_AGENT", &agent)],
        &["done", "--status", "deferred", "-m", "needs a decision"],
    );
    let b = t.json(&["show", &d]);
    assert_eq!(b["status"], "open");
    assert!(b["assignee"].is_null());
    assert_eq!(b["comments"][0]["text"], "needs a decision");
    let bad = t
        .cmd()
        .env("GT_AGENT", &agent)
        .args(["done", "--status", "finished"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn demo_runs_the_loop_and_cleans_up() {
    let t = TestTown::new();
    let dir = t.dir.path().join("demo");
    let out = t
        .cmd()
        .args(["--json", "demo", "--think-ms", "100", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let beads = r["beads"].as_array().unwrap();
    assert_eq!(beads.len(), 3);
    for b in beads {
        // Landed by the refinery: closed, and its commit is on main.
        assert_eq!(b["status"], "closed");
        assert_eq!(b["commits"].as_array().unwrap().len(), 1);
        let id = b["id"].as_str().unwrap();
        assert!(
            r["main_log"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["subject"].as_str().unwrap().starts_with(id)),
            "{id} is not on main: {r}"
        );
    }
    assert_eq!(r["merge_requests"], 3);
    assert_eq!(r["main_log"].as_array().unwrap().len(), 3);
    // Its tmux server is gone.
    let town = dir.join("town");
    let sock = gt_lib::tmux::socket_name_for(&town);
    let ls = std::process::Command::new("tmux")
        .args(["-L", &sock, "ls"])
        .output()
        .unwrap();
    assert!(!ls.status.success(), "demo left a tmux server");
    // Human output says the agent is a stand-in.
    let human = t.run(&["demo", "--think-ms", "50"]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains("stand-in, not an AI"));
}

#[test]
fn agent_selection_order_and_custom_agents() {
    let t = TestTown::new();
    t.with_rig("r");
    let runtime_of = |t: &TestTown, args: &[&str]| -> String {
        let mut all = vec!["--json", "sling"];
        all.extend_from_slice(args);
        let out = t.ok(&all);
        lines_json(&out)[0]["runtime"].as_str().unwrap().to_string()
    };
    // Nothing configured: claude (not installed here, so the sling fails and says so).
    let err = t.fails(&["sling", "x", "r"], 1);
    assert!(err.contains("'claude'"), "{err}");
    // Town default, then rig default, then --agent.
    t.ok(&["config", "default-agent", "standin-hang"]);
    assert_eq!(runtime_of(&t, &["a", "r"]), "standin-hang");
    t.ok(&["rig", "config", "r", "agent", "standin-slow"]);
    assert_eq!(t.json(&["rig", "show", "r"])["agent"], "standin-slow");
    assert_eq!(runtime_of(&t, &["b", "r"]), "standin-slow");
    assert_eq!(
        runtime_of(&t, &["c", "r", "--agent", "standin-prompt"]),
        "standin-prompt"
    );
    // Custom agents are listed, refused when malformed, removable.
    let list = t.json(&["config", "agent", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for n in [
        "claude", "codex", "gemini", "opencode", "aider", "amp", "standin",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    t.refuses(&["config", "agent", "set", "Bad Name", "x"]);
    t.refuses(&["config", "agent", "set", "claude", "my-claude"]);
    t.refuses(&["config", "agent", "set", "empty", ""]);
    t.refuses(&["config", "default-agent", "nobody"]);
    t.refuses(&["rig", "config", "r", "agent", "nobody"]);
    t.set_agent("gone", "true");
    t.ok(&["config", "agent", "remove", "gone"]);
    t.refuses(&["config", "agent", "remove", "gone"]);
}

#[test]
fn runtimes_without_hooks_get_their_rules_in_an_untracked_instructions_file() {
    let t = TestTown::new();
    t.with_rig("r");
    // A fake `codex` (a preset without lifecycle hooks; instructions file AGENTS.md).
    let path = t.fake_program("codex", "echo 'Ask Codex'\nexec sleep 600\n");
    let out = t.ok_env(
        &[("PATH", &path)],
        &["--json", "sling", "use codex", "r", "--agent", "codex"],
    );
    let s = &lines_json(&out)[0];
    let wt = t.worktree("r", s["polecat"].as_str().unwrap());
    let rules = std::fs::read_to_string(wt.join("AGENTS.md")).unwrap();
    assert!(
        rules.contains("gt done") && rules.contains("gt prime"),
        "{rules}"
    );
    // Never part of the work: git sees a clean worktree.
    assert_eq!(
        git(&wt, &["status", "--porcelain", "--untracked-files=all"]).trim(),
        ""
    );

    // A repository that tracks its own AGENTS.md is never touched.
    let t2 = TestTown::new();
    let src2 = crate::common::source_repo(t2.dir.path(), "own");
    std::fs::write(src2.join("AGENTS.md"), "# the project's own rules\n").unwrap();
    git(&src2, &["add", "-A"]);
    git(&src2, &["commit", "-q", "-m", "rules"]);
    t2.ok(&["rig", "add", "own", src2.to_str().unwrap()]);
    let out = t2.ok_env(
        &[("PATH", &path)],
        &["--json", "sling", "use codex", "own", "--agent", "codex"],
    );
    let s = &lines_json(&out)[0];
    let wt = t2.worktree("own", s["polecat"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(wt.join("AGENTS.md")).unwrap(),
        "# the project's own rules\n"
    );
    assert_eq!(git(&wt, &["status", "--porcelain"]).trim(), "");
}

#[test]
fn a_failing_item_names_the_items_already_slung() {
    let t = TestTown::new();
    t.with_rig("r");
    let closed = t.create("closed already", &[]);
    t.ok(&["close", &closed]);
    let err = t.fails(
        &[
            "sling",
            "first fine",
            &closed,
            "r",
            "--agent",
            "standin-hang",
        ],
        1,
    );
    assert!(
        err.contains(&closed) && err.contains("already slung: r-"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
