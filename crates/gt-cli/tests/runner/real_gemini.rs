//! The whole loop with the REAL Gemini CLI (issue 12): a rig trusted with
//! `gt rig trust` (Gemini's `trustedFolders.json`; folder trust stays on),
//! `gt sling "free text" rig --agent gemini` with `GOOGLE_GEMINI_BASE_URL`
//! and `GEMINI_API_KEY` in the caller's environment, the Gemini TUI in tmux
//! on the town's socket, the scripted model making it write, commit and run
//! `gt done` with its own `run_shell_command` tool, then `gt refinery run
//! --once` landing it on main — and after `gt down --all` none of gemini's
//! node processes is left (M8). The CLI comes from `GT_TEST_GEMINI`; without
//! it the test prints one line and returns, unless `CI` is set.

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::TestTown;
use crate::real_support::{
    assert_briefed, assert_costs_and_proof_landed, assert_never_stored, assert_nothing_left,
    done_script, path_with, proof_work, SECRET,
};
use crate::real_support::{sling, wait_merging, write_git_identity};

#[test]
fn gemini_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    write_gemini_settings(&t);
    let work = proof_work("gemini");
    let script = || done_script(&work, (1500, 250, 30), (400, 50, 5));
    let server = ModelServer::start(script()).unwrap();
    let base = server.base_url();
    let path = path_with(&gemini);
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("GOOGLE_GEMINI_BASE_URL", &base),
        ("GEMINI_API_KEY", SECRET),
    ];

    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "add a proof file", "app", "gemini");
    // The new worktree was trusted before gemini started.
    let trusted: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.home.join(".gemini/trustedFolders.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        trusted[s.worktree.to_str().unwrap()],
        "TRUST_FOLDER",
        "{trusted}"
    );

    wait_merging(&t, "gemini", &[&s], &server, 180);

    assert_briefed(&server, &s.agent, "GEMINI.md");
    let requests = server.requests();
    assert!(requests
        .iter()
        .any(|r| r.header("x-goog-api-key") == Some(SECRET)));

    assert_costs_and_proof_landed(&t, &server, &script(), "gemini");

    // Gemini's node processes go with its session (M8).
    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}

/// M8 without a real CLI: an agent that leaves a detached child behind (in
/// a session of its own, deaf to SIGHUP and SIGTERM, as gemini's node
/// processes were to tmux) — `gt down --all` ends it too.
#[test]
fn gt_down_all_ends_an_agents_detached_children() {
    let t = TestTown::new();
    t.with_rig("app");
    t.set_agent(
        "leaver",
        "sh -c 'setsid sh -c \"trap \\\"\\\" HUP TERM; exec sleep 301\" & trap \"\" HUP; exec sleep 600'",
    );
    t.ok(&["sling", "leave a child", "app", "--agent", "leaver"]);
    t.wait_for(20, "the detached child runs", |t| {
        crate::real_support::processes_in(&t.root)
            .iter()
            .any(|p| p.contains("sleep 301"))
    });
    assert_nothing_left(&t);
}

/// Without `gt rig trust`, gt does not answer gemini's folder-trust dialog
/// for the user: `gt agents` shows the agent waiting for input, and the
/// model never gets the work.
#[test]
fn gemini_in_an_untrusted_rig_waits_at_the_trust_dialog() {
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    std::fs::create_dir_all(t.home.join(".gemini")).unwrap();
    std::fs::write(
        t.home.join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": true}, "telemetry": {"enabled": false}}"#,
    )
    .unwrap();
    let server = ModelServer::start(Script::new().otherwise(Reply::text("ok"))).unwrap();
    let base = server.base_url();
    let path = path_with(&gemini);
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("GOOGLE_GEMINI_BASE_URL", &base),
        ("GEMINI_API_KEY", SECRET),
    ];
    // Sling starts it; what gemini shows next is reported, not answered.
    let s = sling(&t, &caller, "needs trust", "app", "gemini");
    // The launch watch saw the dialog and said so.
    assert_eq!(s.waiting_for_input.as_deref(), Some("folder_trust"));
    t.wait_for(60, "gemini waiting at its trust dialog", |t| {
        t.json(&["agents"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["bead"] == s.bead.as_str() && a["state"] == "waiting_for_input")
    });
    let screen = crate::real_support::screen(&t, &s.session);
    assert!(screen.contains("Do you trust"), "{screen}");
    assert!(
        !server.requests().iter().any(|r| r.contains("needs trust")),
        "the work reached the model in an untrusted folder"
    );
    assert_nothing_left(&t);
}

/// The user's settings: API-key auth, no telemetry, no updates. Folder trust
/// stays on: `gt rig trust` is what lets gemini work in a rig.
fn write_gemini_settings(t: &TestTown) {
    std::fs::create_dir_all(t.home.join(".gemini")).unwrap();
    std::fs::write(
        t.home.join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": true, "disableUpdateNag": true},
            "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false}}"#,
    )
    .unwrap();
}

/// `gt nudge` reaches the real Gemini CLI TUI verbatim.
#[test]
fn a_nudge_reaches_the_real_gemini_tui_verbatim() {
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_gemini_settings(&t);
    let server = ModelServer::start(crate::real_support::nudge_script()).unwrap();
    let base = server.base_url();
    let path = path_with(&gemini);
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("GOOGLE_GEMINI_BASE_URL", &base),
        ("GEMINI_API_KEY", SECRET),
    ];
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "wait for a nudge", "app", "gemini");
    crate::real_support::assert_nudge_verbatim(&t, &server, &s.agent, &s.session);
    assert_nothing_left(&t);
}

/// A request of a resumed session: the first instruction twice, once in the
/// conversation gemini recorded and once as the new prompt.
fn resumed(r: &gt_testkit::model_server::Request) -> bool {
    r.text().matches("Your bead is").count() >= 2
}

/// A crash mid-work with the real Gemini CLI: killed while its shell command
/// runs, the deacon saves the uncommitted work; `gt resume` continues the
/// conversation (`--resume latest`), the model's next request carries it, and
/// the agent finishes with `gt done`. Gemini records a tool call once it has
/// finished, so the interrupted command is not in the resumed conversation:
/// what it carries is the first instruction (the files are printed on failure).
#[test]
fn gemini_crash_mid_work_is_saved_and_resumed() {
    use crate::real_support::{assert_crash_work_landed, crash, wait_crash_point};
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    write_git_identity(&t);
    write_gemini_settings(&t);
    t.ok(&["config", "set", "deacon.restart_backoff", "1h"]);
    // The resumed session: the earlier conversation (its first
    // instruction) is in the request beside the new one.
    let script = crate::real_support::crash_script(Box::new(resumed));
    let server = ModelServer::start(script).unwrap();
    let base = server.base_url();
    let path = path_with(&gemini);
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("GOOGLE_GEMINI_BASE_URL", &base),
        ("GEMINI_API_KEY", SECRET),
    ];
    t.ok_env(&caller, &["rig", "trust", "app"]);
    let s = sling(&t, &caller, "work that crashes", "app", "gemini");
    let wt = s.worktree.clone();
    wait_crash_point(&t, &wt, "gemini");
    crash(&t, &wt, &s.bead, "gemini");
    let chats = crate::real_support::files_under(&t.home.join(".gemini/tmp"));
    eprintln!("gemini's files after the crash: {chats:#?}");
    for c in chats
        .iter()
        .filter(|p| p.to_string_lossy().contains("chats"))
    {
        eprintln!(
            "{}:\n{}",
            c.display(),
            std::fs::read_to_string(c).unwrap_or_default()
        );
    }
    let before = server.requests().len();
    t.ok_env(&caller, &["--json", "resume", &s.bead]);
    wait_merging(&t, "gemini", &[&s], &server, 180);
    assert!(
        server.requests()[before..].iter().any(resumed),
        "the resumed gemini did not carry the earlier conversation"
    );
    assert_crash_work_landed(&t);
    assert_nothing_left(&t);
}

/// Gemini CLI retries a failing model API for minutes with only its spinner
/// on screen; gt's `BeforeModel` hook sees the same request sent again and
/// `gt agents` shows `error` (source `hook`) within seconds, for a server
/// error and a rate limit alike (the recovery, `working` on the next new
/// request, is `model_request_hook_reports_retries_and_recovery`). The user's own system
/// settings file (here named by `GEMINI_CLI_SYSTEM_SETTINGS_PATH`) stays in
/// force: gt's file carries it. Gemini reads a system settings file only
/// when no directory above it is writable by others, so this town lives
/// under the target directory, not `/tmp`.
#[test]
fn gemini_api_failures_show_in_gt_agents_within_seconds() {
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    for status in [500u16, 429] {
        let t = TestTown::new_in_target();
        t.with_rig("app");
        write_git_identity(&t);
        write_gemini_settings(&t);
        let system = t.home.join("system-settings.json");
        std::fs::write(&system, r#"{"ui": {"hideTips": true}}"#).unwrap();
        let script = Script::new()
            .when(
                when::and(when::offers_tools(), when::contains("fail first")),
                Reply::error(status),
            )
            .otherwise(Reply::text("ok"));
        let server = ModelServer::start(script).unwrap();
        let base = server.base_url();
        let path = path_with(&gemini);
        let system_s = system.to_string_lossy().into_owned();
        let caller: Vec<(&str, &str)> = vec![
            ("PATH", &path),
            ("GOOGLE_GEMINI_BASE_URL", &base),
            ("GEMINI_API_KEY", SECRET),
            ("GEMINI_CLI_SYSTEM_SETTINGS_PATH", &system_s),
        ];
        t.ok_env(&caller, &["rig", "trust", "app"]);
        let started = std::time::Instant::now();
        let s = sling(&t, &caller, "fail first", "app", "gemini");
        t.wait_for(60, &format!("state error after HTTP {status}"), |t| {
            t.json(&["agents"]).as_array().unwrap().iter().any(|a| {
                a["bead"] == s.bead.as_str() && a["state"] == "error" && a["state_source"] == "hook"
            })
        });
        let took = started.elapsed();
        // The hook runs before each attempt is sent, so the retry it
        // reported reaches the server a moment later.
        let failed = || {
            server
                .requests()
                .iter()
                .filter(|r| r.offers_tools() && r.contains("fail first"))
                .count()
        };
        t.wait_for(10, "the retried request at the server", |_| failed() >= 2);
        assert!(took < std::time::Duration::from_secs(40), "took {took:?}");
        // gt agent-state agrees with gt agents.
        let st = t.json(&["agent-state", &s.agent]);
        assert_eq!(st["state"], "error", "{st}");
        // gt's settings file kept the user's system settings and its hook.
        let gt_file: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(t.root.join(".gt/run/hooks/app").join(format!(
                "{}.gemini.json",
                s.agent.split('/').nth(1).unwrap()
            )))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(gt_file["ui"]["hideTips"], true, "{gt_file}");
        assert!(gt_file["hooks"]["BeforeModel"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .contains("agent-report --hook model-request"));
        assert_nothing_left(&t);
        assert_never_stored(&t, SECRET);
    }
}
