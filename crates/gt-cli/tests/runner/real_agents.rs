//! The whole loop with a REAL agent CLI (issue 12): a town with a trusted
//! rig, `gt sling "free text" rig --agent claude` with the scripted model
//! server's URL passed through the caller's environment, the real CLI in
//! tmux on the town's socket, the scripted model making it edit a file,
//! commit and run `gt done` by the absolute path the briefing gives, then
//! `gt refinery run --once` landing it on main. The CLI is found from
//! `GT_TEST_CLAUDE` (`.ci/install-agents.sh`); without it the test prints
//! one line and returns, unless `CI` is set (then it fails).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, gt_bin, TestTown};
use crate::real_support::{
    assert_crash_work_landed, assert_never_stored, assert_nothing_left, claude_caller, crash,
    crash_finish, done_script, files_under, path_with, pids_in, proof_work, wait_crash_point,
    write_git_identity, CRASH_WORK, SECRET,
};

#[test]
fn claude_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    let gt = gt_bin();
    let gt = gt.to_str().unwrap().to_string();
    let path = path_with(&claude);

    // The model: one shell turn that edits, commits and runs `gt done` by
    // the absolute path, then a closing text.
    let work = proof_work("claude");
    let script = || done_script(&work, (1200, 300, 40), (500, 60, 7));
    let server = ModelServer::start(script()).unwrap();
    let base = server.base_url();
    let owned = claude_caller(&path, &base, SECRET);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Trust writes claude's folder trust and onboarding in the caller's HOME.
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let claude_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.home.join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(claude_json["hasCompletedOnboarding"], true, "{claude_json}");

    let mut args = vec!["--json", "sling", "add a proof file", "app"];
    args.extend(["--agent", "claude"]);
    let out = t.ok_env(&caller, &args);
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(slung["worktree"].as_str().unwrap());
    // The new worktree was trusted before the agent started.
    let claude_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.home.join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(
        claude_json["projects"][wt.to_str().unwrap()]["hasTrustDialogAccepted"],
        true,
        "{claude_json}"
    );

    let session = slung["session"].as_str().unwrap().to_string();
    let screen = || crate::real_support::screen(&t, &session);
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        assert!(
            Instant::now() < deadline,
            "claude did not reach `gt done` in 180s\nscreen:\n{}\nrequests: {:#?}",
            screen(),
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let requests = server.requests();
    // The first prompt names gt by its absolute path, and the SessionStart
    // hook's `gt prime` briefing reached the model.
    assert!(
        requests.iter().any(|r| r.contains(&format!("{gt} prime"))),
        "the first prompt did not name the absolute gt"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("(Gas Town polecat)") && r.contains(&format!("Your bead: {bead}"))),
        "the SessionStart briefing never reached the model"
    );
    assert!(requests
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));

    // The refinery lands it on main.
    t.ok(&["refinery", "run", "--once"]);
    let landed = git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, "landed by claude\n");

    assert_costs_are_the_servers(&t, &server, &script(), &bead, &screen);

    // After `gt down --all`, nothing of the agent is left.
    assert_nothing_left(&t);

    // The token was passed to the session only: it is in no file of the
    // town (database, logs, hook settings) and not in the trail.
    assert_never_stored(&t, SECRET);
}

/// `gt costs` equals exactly the usage the scripted server sent in the
/// agent's main conversation: the replies to every request that is not a
/// side request (titles, summaries), as the script answers them. Claude's
/// transcript holds those replies only. Waits for the session to end (`gt
/// done` ends it a moment later) and for the last `Stop` hook's report.
fn assert_costs_are_the_servers(
    t: &TestTown,
    server: &ModelServer,
    script: &Script,
    bead: &str,
    screen: &dyn Fn() -> String,
) {
    let expected = |requests: &[gt_testkit::model_server::Request]| {
        let mut want = [0i64; 3];
        let mut turns = 0;
        for r in requests.iter().filter(|r| r.side_kind().is_none()) {
            let u = script.reply_for(r).usage;
            want[0] += u.input as i64;
            want[1] += u.output as i64;
            want[2] += u.cache_read as i64;
            turns += 1;
        }
        (want, turns)
    };
    let got = |t: &TestTown| {
        let v = t.json(&["costs", "--by", "bead"]);
        let tot = &v["totals"];
        (
            [
                tot["input_tokens"].as_i64().unwrap(),
                tot["output_tokens"].as_i64().unwrap(),
                tot["cache_read_tokens"].as_i64().unwrap(),
            ],
            v,
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (want, turns) = expected(&server.requests());
        let (have, v) = got(t);
        if have == want && turns >= 2 {
            // The shell turn and the closing text: exactly these numbers.
            assert_eq!(want, [1200 + 500, 300 + 60, 40 + 7], "turns: {turns}");
            assert_eq!(v["by"], "bead");
            assert_eq!(v["rows"][0]["key"], bead);
            assert_eq!(v["rows"][0]["sessions"], 1);
            assert_eq!(v["totals"]["cache_write_tokens"], 0);
            // The cost is Claude's own, never computed by gt: the figure of
            // the `cost-state` line Claude writes into its transcript when
            // the session ends (tmux's hang-up at `gt done` is a graceful
            // exit for it), read at its SessionEnd hook a moment after the
            // tokens of the last Stop hook: wait for it.
            let Some(claude_cost) = claude_session_cost(&t.home) else {
                assert!(
                    Instant::now() < deadline,
                    "no cost-state in the transcript\n{v}"
                );
                std::thread::sleep(Duration::from_millis(300));
                continue;
            };
            if v["totals"]["cost_micros"].is_null() {
                assert!(Instant::now() < deadline, "no cost recorded\n{v}");
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            assert!(claude_cost > 0, "{v}");
            assert_eq!(v["totals"]["cost_micros"], claude_cost, "{v}");
            assert_eq!(v["totals"]["sessions_without_cost"], 0, "{v}");
            let status = t.json(&["status"]);
            assert_eq!(status["costs"]["input_tokens"], want[0], "{status}");
            assert!(t.ok(&["status"]).contains("Costs: 1 session(s)"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gt costs {have:?} != the server's {want:?} over {turns} turns\n{v}\nscreen:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Claude's own cost of the session in micro-dollars: the last
/// `cost-state` line's `totalCostUSD` of the transcripts under `home`.
fn claude_session_cost(home: &std::path::Path) -> Option<i64> {
    let mut cost = None;
    for f in crate::real_support::files_under(&home.join(".claude/projects")) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["type"] == "cost-state" {
                cost = v["totalCostUSD"].as_f64().map(|c| (c * 1e6).round() as i64);
            }
        }
    }
    cost
}

/// M4: Claude crashes mid-work (killed while its shell command runs); the
/// deacon saves the uncommitted work and ends the session; `gt resume`
/// starts `claude … --resume <the session_id its SessionStart hook
/// recorded>`, the model's next request carries the earlier conversation,
/// and the agent finishes with `gt done`; the work lands.
#[test]
fn claude_crash_mid_work_is_saved_and_resumed_with_its_conversation() {
    use gt_lib::store::{CostStore, WorkStore};
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    // The deacon records deaths but leaves the restart to `gt resume` here.
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    let path = path_with(&claude);
    let finish = crash_finish();
    let script = || {
        Script::new()
            .when(
                when::last_tool_result_contains("DONE-OK"),
                Reply::text("Finished.").with_usage(300, 30, 3),
            )
            // The earlier conversation is in the request: the resumed session.
            .when(
                when::and(when::contains("CRASH-POINT"), when::user_turn()),
                Reply::shell(&finish).with_usage(2000, 200, 20),
            )
            .when(
                when::and(when::offers_tools(), when::user_turn()),
                Reply::shell(CRASH_WORK).with_usage(1000, 100, 10),
            )
            .otherwise(Reply::text("Nothing more to do.").with_usage(5, 5, 5))
    };
    let server = ModelServer::start(script()).unwrap();
    let base = server.base_url();
    let owned = claude_caller(&path, &base, "scripted");
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let out = t.ok_env(
        &caller,
        &[
            "--json",
            "sling",
            "work that crashes",
            "app",
            "--agent",
            "claude",
        ],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(slung["worktree"].as_str().unwrap());
    let first = slung["session_id"]
        .as_i64()
        .expect("session_id in sling --json");

    // Mid-work: the file is written, the long command runs.
    wait_crash_point(&t, &wt, "claude");
    let conversation = t
        .store()
        .agent_session_id(first)
        .unwrap()
        .expect("the SessionStart hook recorded claude's session_id");
    // Claude's status line reported the session's cost meanwhile.
    t.wait_for(30, "the status line's cost", |t| {
        t.store()
            .session_usage(first)
            .unwrap()
            .is_some_and(|u| u.usage.cost_micros.is_some_and(|c| c > 0))
    });
    // The crash: claude and its command die.
    crash(&t, &wt, &bead, "claude");
    let ended = t.store().get_session(first).unwrap();
    // Exited (a dead pane) or vanished (tmux dropped the session): a crash.
    assert!(
        matches!(ended.end_reason.as_deref(), Some("exited" | "vanished")),
        "{ended:?}"
    );
    // The dead agent's uncommitted work was saved on its branch.
    let saved = git(&wt, &["show", &format!("{}:wip.txt", ended.branch)]);
    assert_eq!(saved, "unsaved work\n");

    let out = t.ok_env(&caller, &["--json", "resume", &bead]);
    let resumed: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_ne!(resumed["session_id"].as_i64(), Some(first));
    // The new claude runs with --resume and the recorded id.
    t.wait_for(30, "the resumed claude", |_| {
        pids_in(&wt)
            .iter()
            .any(|(_, c)| c.contains("claude") && c.contains(&format!("--resume {conversation}")))
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        assert!(
            Instant::now() < deadline,
            "the resumed claude did not reach gt done; requests: {:#?}",
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The resumed request carried the earlier conversation: the first
    // instruction and the command that was running when it died.
    let requests = server.requests();
    assert!(requests.iter().any(|r| !r.last_is_tool_result()
        && r.contains("CRASH-POINT")
        && r.contains("work that crashes")));
    // Both sessions' usage together is the conversation's, counted once
    // (the resumed session continues the same transcript).
    let script = script();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut want = [0i64; 3];
        for r in server.requests().iter().filter(|r| r.side_kind().is_none()) {
            let u = script.reply_for(r).usage;
            want[0] += u.input as i64;
            want[1] += u.output as i64;
            want[2] += u.cache_read as i64;
        }
        let v = t.json(&["costs", "--by", "bead"]);
        let tot = &v["totals"];
        let have = [
            tot["input_tokens"].as_i64().unwrap(),
            tot["output_tokens"].as_i64().unwrap(),
            tot["cache_read_tokens"].as_i64().unwrap(),
        ];
        if have == want {
            assert_eq!(tot["sessions"], 2, "{v}");
            assert!(
                tot["cost_micros"].as_i64().is_some_and(|c| c > 0),
                "{v}\n{}",
                t.ok(&["--json", "trail", "--kind", "session.usage", "-n", "50"])
            );
            assert!(want[0] >= 1000 + 2000, "{want:?}");
            break;
        }
        if Instant::now() >= deadline {
            let st = t.store();
            for sess in st.list_sessions(&Default::default()).unwrap() {
                eprintln!(
                    "DIAG session {} agent id {:?} usage {:?}",
                    sess.id,
                    st.agent_session_id(sess.id).unwrap(),
                    st.session_usage(sess.id).unwrap().map(|u| u.usage)
                );
            }
            for f in files_under(&t.home.join(".claude/projects")) {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                for l in text.lines() {
                    let j: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                    if j["type"] == "assistant" {
                        eprintln!(
                            "DIAG {} sid={} req={} in={}",
                            f.file_name().unwrap().to_string_lossy(),
                            j["sessionId"],
                            j["requestRef"],
                            j["message"]["usage"]["input_tokens"]
                        );
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "costs {have:?} != the server's {want:?}: {v}\n{}",
            t.ok(&["trail", "--kind", "session.usage", "-n", "50"])
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_crash_work_landed(&t);
    assert_nothing_left(&t);
}

/// Claude's `StopFailure` hook reports a failed model API: `gt agents`
/// shows `rate_limited` for a 429 and `error` for a 529, within seconds.
#[test]
fn claude_api_failures_show_in_gt_agents() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    for (status, rig, want) in [(429, "app", "rate_limited"), (529, "lib", "error")] {
        let t = TestTown::new();
        t.with_rig(rig);
        let path = path_with(&claude);
        let script = Script::new()
            .when(when::offers_tools(), Reply::error(status))
            .otherwise(Reply::text("ok"));
        let server = ModelServer::start(script).unwrap();
        let base = server.base_url();
        let mut owned = claude_caller(&path, &base, "scripted");
        owned.push(("CLAUDE_CODE_MAX_RETRIES", "0".into()));
        let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        t.ok_env(&caller, &["rig", "trust", rig]);
        let out = t.ok_env(
            &caller,
            &["--json", "sling", "fail please", rig, "--agent", "claude"],
        );
        let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        let bead = slung["bead"].as_str().unwrap().to_string();
        t.wait_for(90, &format!("state {want} after HTTP {status}"), |t| {
            t.json(&["agents"])
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["bead"] == bead && a["state"] == want && a["state_source"] == "hook")
        });
        assert!(server.requests().iter().any(|r| r.offers_tools()));
    }
}

/// The town's `runtime.env` and the proxies reach every session (a custom
/// agent here), a preset's own prefixes only its own runtime, and no value
/// is written to the database, the logs or the trail.
#[test]
fn caller_variables_reach_the_session_and_are_never_stored() {
    let t = TestTown::new();
    t.with_rig("app");
    let dump = t.dir.path().join("env.txt");
    t.set_agent(
        "dumper",
        &format!("sh -c 'env > {}; sleep 60'", dump.display()),
    );
    t.ok(&["config", "set", "runtime.env", "MY_*, EXTRA"]);
    assert!(t
        .refuses(&["config", "set", "runtime.env", "BAD-NAME"])
        .contains("runtime.env"));
    let caller = [
        ("MY_TOKEN", SECRET),
        ("EXTRA", "extra-value"),
        ("HTTPS_PROXY", "http://proxy.example:3128"),
        ("ANTHROPIC_AUTH_TOKEN", "not-for-a-custom-agent"),
        ("UNRELATED", "unrelated-value"),
    ];
    t.ok_env(
        &caller,
        &["sling", "show the env", "app", "--agent", "dumper"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&dump).unwrap_or_default();
        if text.contains("GT_BIN=") {
            break text;
        }
        assert!(Instant::now() < deadline, "the agent never wrote its env");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.lines().any(|l| l == format!("MY_TOKEN={SECRET}")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "EXTRA=extra-value"), "{text}");
    assert!(text
        .lines()
        .any(|l| l == "HTTPS_PROXY=http://proxy.example:3128"));
    assert!(text
        .lines()
        .any(|l| l == format!("GT_BIN={}", gt_bin().display())));
    assert!(!text.contains("not-for-a-custom-agent"), "{text}");
    assert!(!text.contains("unrelated-value"), "{text}");
    assert_never_stored(&t, SECRET);
}

/// As root, claude needs `IS_SANDBOX` to skip permissions: without it in
/// what the session would get, sling refuses up front and writes nothing.
#[test]
fn claude_as_root_without_is_sandbox_is_refused_up_front() {
    use std::os::unix::fs::MetadataExt;
    let t = TestTown::new();
    t.with_rig("app");
    let path = t.fake_program("claude", "echo 'bypass permissions on'\nsleep 60\n");
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        let before = t.fingerprint();
        let mut c = t.cmd();
        c.env("PATH", &path);
        let out = c
            .args(["sling", "needs a sandbox", "app", "--agent", "claude"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("IS_SANDBOX"), "{err}");
        assert_eq!(t.fingerprint(), before, "a refused sling wrote something");
    }
    // With IS_SANDBOX (or not as root) the same sling starts the agent.
    let out = t.ok_env(
        &[("PATH", &path), ("IS_SANDBOX", "1")],
        &[
            "--json",
            "sling",
            "in a sandbox",
            "app",
            "--agent",
            "claude",
        ],
    );
    assert!(out.contains("\"runtime\":\"claude\""), "{out}");
}

/// gt's status line (which records the session's cost) does not hide the
/// user's own: with a command status line in the user's
/// `~/.claude/settings.json`, the real Claude Code shows that line for a
/// polecat too (gt passes the payload on to it).
#[test]
fn the_users_own_claude_status_line_still_shows() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    std::fs::create_dir_all(t.home.join(".claude")).unwrap();
    std::fs::write(
        t.home.join(".claude/settings.json"),
        r#"{"statusLine": {"type": "command", "command": "cat > /dev/null; echo USER-LINE-4q"}}"#,
    )
    .unwrap();
    let server = ModelServer::start(crate::real_support::nudge_script()).unwrap();
    let path = path_with(&claude);
    let owned = claude_caller(&path, &server.base_url(), SECRET);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = crate::real_support::sling(&t, &caller, "wait for a nudge", "app", "claude");
    t.wait_for(90, "the user's status line on claude's screen", |t| {
        crate::real_support::screen(t, &s.session).contains("USER-LINE-4q")
    });
    assert_nothing_left(&t);
}
