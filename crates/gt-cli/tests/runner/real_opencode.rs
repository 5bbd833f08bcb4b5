//! The whole loop with the REAL OpenCode (issue 12): `gt sling "free text"
//! rig --agent opencode` starts its TUI in tmux on the town's socket (the
//! instruction behind `--prompt`), the provider configured the way a user
//! configures it (`~/.config/opencode/opencode.json`, an
//! `@ai-sdk/openai-compatible` provider whose key comes from the caller's
//! `OPENAI_API_KEY`), and the scripted model makes it run one `bash` tool
//! call that writes a file, commits and runs `gt done` by the absolute path.
//! gt reads its usage from OpenCode's own database (read-only): the
//! scripted server's usage of the turns OpenCode wrote, with the cost
//! OpenCode computed from the configured price. The refinery then lands it
//! on main. The CLI is found from
//! `GT_TEST_OPENCODE`; without it the test prints one line and returns,
//! unless `CI` is set (then it fails).

use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, Api, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, gt_bin, TestTown};
use crate::real_support::{
    assert_never_stored, assert_nothing_left, path_with, write_git_identity, SECRET,
};

#[test]
fn opencode_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    let gt = gt_bin();
    let gt = gt.to_str().unwrap().to_string();
    let path = path_with(&opencode);

    // The work, then `gt done` in a turn of its own: OpenCode writes a
    // turn's usage when the turn's tool has returned, and `gt done` ends the
    // session a moment after it returns. Each reply reports its own usage.
    let work = "printf 'landed by opencode\\n' > proof.txt && git add proof.txt && \
                git commit -q -m 'add proof.txt' && echo COMMITTED";
    let script = Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished.").with_usage(400, 40, 4),
        )
        .when(
            when::last_tool_result_contains("COMMITTED"),
            Reply::shell(&format!("'{gt}' done && echo DONE-OK")).with_usage(300, 30, 3),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(work).with_usage(1000, 100, 10),
        )
        .otherwise(Reply::text("Nothing more to do.").with_usage(7, 8, 9));
    let server = ModelServer::start(script).unwrap();

    let owned = opencode_setup(&t, &server.base_url(), &path);
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let slung = crate::real_support::sling(&t, &caller, "add a proof file", "app", "opencode");
    let (bead, wt, session) = (slung.bead, slung.worktree, slung.session);
    let screen = || crate::real_support::screen(&t, &session);
    // Every distinct screen seen until `gt done`, for the classifier check.
    let mut screens: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while t.bead_status(&bead) != "merging" {
        let now = screen();
        if !now.trim().is_empty() && screens.last() != Some(&now) {
            screens.push(now);
        }
        assert!(
            Instant::now() < deadline,
            "opencode did not reach `gt done` in 180s\nscreen:\n{}\nrequests: {:#?}",
            screen(),
            server
                .requests()
                .iter()
                .map(|r| (r.path.clone(), r.last_tool_result()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let turns = server.requests_for(Api::Chat);
    // The first prompt (behind `--prompt`) reached the model, naming gt by
    // its absolute path; the key was the caller's.
    assert!(
        turns
            .iter()
            .any(|r| r.contains(&bead) && r.contains(&format!("{gt} prime"))),
        "the first prompt never reached the model"
    );
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));
    // The real screens, read by the one classifier with the preset's
    // patterns: the turn showed as working (`esc interrupt`), never as a
    // dialog.
    let rt = gt_lib::runtime::preset("opencode").unwrap();
    let patterns = gt_lib::screen::Patterns::for_runtime(&rt);
    let states: Vec<_> = screens
        .iter()
        .map(|s| gt_lib::screen::classify(s, &patterns))
        .collect();
    assert!(
        states.contains(&gt_lib::screen::ScreenState::Working),
        "{states:?}\n{screens:#?}"
    );
    assert!(
        !states
            .iter()
            .any(|s| matches!(s, gt_lib::screen::ScreenState::WaitingForInput { .. })),
        "{states:?}\n{screens:#?}"
    );
    // Recording fixtures: `GT_TEST_SCREENS_DIR=DIR` keeps every screen seen.
    if let Ok(dir) = std::env::var("GT_TEST_SCREENS_DIR") {
        for (i, s) in screens.iter().enumerate() {
            std::fs::write(format!("{dir}/opencode-{i}.txt"), s).unwrap();
        }
    }
    assert_eq!(
        git(&wt, &["log", "-1", "--format=%an"]).trim(),
        "Agent User"
    );

    // `gt done` runs inside the shell turn, before OpenCode writes that
    // turn's usage; the deacon reads recently ended sessions again. Wait for
    // the closing turn (or the session's end) and patrol.
    t.wait_for(30, "the session to end", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["live"] != "running")
    });
    t.ok(&["deacon", "patrol", "--once"]);
    let v = t.json(&["costs", "--by", "bead"]);
    let tot = &v["totals"];
    assert_eq!(v["rows"][0]["key"], bead.as_str(), "{v}");
    // OpenAI-style input includes the cached part; gt records it apart.
    // The work turn always counts; the `gt done` turn when OpenCode wrote it
    // before the session ended; the closing one when it happened.
    let turns = [(1000 - 10, 100, 10), (300 - 3, 30, 3), (400 - 4, 40, 4)];
    let closing = server
        .requests()
        .iter()
        .any(|r| r.last_tool_result().is_some_and(|t| t.contains("DONE-OK")));
    let got = (
        tot["input_tokens"].as_i64().unwrap(),
        tot["output_tokens"].as_i64().unwrap(),
        tot["cache_read_tokens"].as_i64().unwrap(),
    );
    let sums: Vec<(i64, i64, i64)> = (1..=3)
        .map(|n| {
            turns[..n]
                .iter()
                .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2))
        })
        .collect();
    assert!(
        got == sums[0] || got == sums[1] || (closing && got == sums[2]),
        "{got:?} is none of {sums:?} (closing turn seen: {closing}): {v}"
    );
    let (input, output, cached) = got;
    // OpenCode's own price arithmetic (dollars per million tokens).
    let cost = tot["cost_micros"].as_i64().expect("a cost");
    let expect = (input * 3 + output * 15) as f64 + cached as f64 * 0.3;
    assert!(
        (cost as f64 - expect).abs() <= 3.0,
        "{cost} vs {expect}: {v}"
    );
    t.ok(&["refinery", "run", "--once"]);
    let landed = git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, "landed by opencode\n");

    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}

/// The provider as a user configures it (`~/.config/opencode/opencode.json`,
/// with a price so OpenCode computes its cost); the key is read from the
/// caller's environment, which the preset passes (`OPENAI_*`). Returns what
/// the caller exports.
fn opencode_setup(t: &TestTown, base: &str, path: &str) -> Vec<(&'static str, String)> {
    let config = t.home.join(".config/opencode");
    std::fs::create_dir_all(&config).unwrap();
    let provider = serde_json::json!({
        "provider": { "scripted": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Scripted",
            "options": { "baseURL": format!("{base}/v1"), "apiKey": "{env:OPENAI_API_KEY}" },
            // Dollars per million tokens: OpenCode computes its cost.
            "models": { "scripted-model": { "name": "Scripted model",
                "cost": { "input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75 } } },
        } },
        "model": "scripted/scripted-model",
        "permission": { "bash": "allow", "edit": "allow" },
    });
    std::fs::write(config.join("opencode.json"), provider.to_string()).unwrap();
    vec![
        ("PATH", path.to_string()),
        ("OPENAI_API_KEY", SECRET.to_string()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
        ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1".into()),
    ]
}

/// `gt nudge` reaches the real OpenCode TUI verbatim.
#[test]
fn a_nudge_reaches_the_real_opencode_tui_verbatim() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let server = ModelServer::start(crate::real_support::nudge_script()).unwrap();
    let owned = opencode_setup(&t, &server.base_url(), &path_with(&opencode));
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "wait for a nudge", "app", "opencode");
    crate::real_support::assert_nudge_verbatim(&t, &server, &s.agent, &s.session);
    assert_nothing_left(&t);
}

/// The model API failing (HTTP 500): OpenCode retries with a growing wait
/// and says so in its footer (`[retrying in 2s attempt #2]`); `gt agents`
/// shows `error` from its screen within seconds, and `gt agent-state`
/// agrees.
#[test]
fn opencode_api_failure_shows_error_in_gt_agents() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    let server = ModelServer::start(Script::new().otherwise(Reply::error(500))).unwrap();
    let owned = opencode_setup(&t, &server.base_url(), &path_with(&opencode));
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "the api fails", "app", "opencode");
    t.wait_for(30, "state error after HTTP 500", |t| {
        let a = t.agent_row(&s.agent);
        a["state"] == "error" && a["state_source"] == "screen"
    });
    // Its first attempt failed and it said so at once (attempt #1).
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.offers_tools() && r.contains("the api fails")),
        "the turn never reached the server"
    );
    assert!(crate::real_support::screen(&t, &s.session).contains("attempt #"));
    let st = t.json(&["agent-state", &s.agent]);
    assert_eq!(st["state"], "error", "{st}");
    assert_nothing_left(&t);
}

/// A crash mid-work with the real OpenCode: killed while its shell command
/// runs, the deacon saves the uncommitted work; OpenCode has no resume gt
/// can trust (see docs/runtimes.md), so `gt resume` starts it afresh with a
/// first instruction that says the earlier work is on the branch (and `gt
/// prime` lists it); the agent continues from there and both land.
#[test]
fn opencode_crash_mid_work_is_saved_and_resumed_afresh() {
    use crate::real_support::{assert_crash_work_landed, crash, wait_crash_point, wait_merging};
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    let resumed = gt_lib::sling::RESUMED_AFRESH;
    let script = crate::real_support::crash_script(when::contains(resumed));
    let server = ModelServer::start(script).unwrap();
    let owned = opencode_setup(&t, &server.base_url(), &path_with(&opencode));
    let caller: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = crate::real_support::sling(&t, &caller, "work that crashes", "app", "opencode");
    let wt = s.worktree.clone();
    wait_crash_point(&t, &wt, "opencode");
    assert!(
        !server.requests().iter().any(|r| r.contains(resumed)),
        "a first session was told it resumes"
    );
    crash(&t, &wt, &s.bead, "opencode");
    let branch = git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]);
    assert_eq!(
        git(&wt, &["show", &format!("{}:wip.txt", branch.trim())]),
        "unsaved work\n",
        "the dead agent's work was not saved"
    );
    // The briefing of the resumed session lists the saved commit.
    let prime = t.ok_env(&[("GT_AGENT", s.agent.as_str())], &["prime"]);
    assert!(
        prime.contains("Already on your branch") && prime.contains("WIP"),
        "{prime}"
    );
    let before = server.requests().len();
    t.ok_env(&caller, &["--json", "resume", &s.bead]);
    wait_merging(&t, "opencode", &[&s], &server, 180);
    assert!(
        server.requests()[before..]
            .iter()
            .any(|r| r.contains(resumed)),
        "the resumed opencode was not told about the earlier work"
    );
    assert_crash_work_landed(&t);
    assert_nothing_left(&t);
}
