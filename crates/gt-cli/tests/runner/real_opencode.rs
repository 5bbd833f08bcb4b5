//! The whole loop with the REAL OpenCode (issue 12): `gt sling "free text"
//! rig --agent opencode` starts its TUI in tmux on the town's socket (the
//! instruction behind `--prompt`), the provider configured the way a user
//! configures it (`~/.config/opencode/opencode.json`, an
//! `@ai-sdk/openai-compatible` provider whose key comes from the caller's
//! `OPENAI_API_KEY`), and the scripted model makes it run one `bash` tool
//! call that writes a file, commits and runs `gt done` by the absolute path.
//! The refinery then lands it on main. The CLI is found from
//! `GT_TEST_OPENCODE`; without it the test prints one line and returns,
//! unless `CI` is set (then it fails).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gt_testkit::model_server::{when, Api, ModelServer, Reply, Script};
use gt_testkit::real_cli;

use crate::common::{git, gt_bin, TestTown};
use crate::real_agents::{assert_never_stored, assert_nothing_left, path_with, SECRET};

#[test]
fn opencode_slung_through_gt_edits_commits_and_lands_on_main() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let t = TestTown::new();
    t.with_rig("app");
    std::fs::write(
        t.home.join(".gitconfig"),
        "[user]\n\tname = Agent User\n\temail = agent@example.com\n",
    )
    .unwrap();
    let gt = gt_bin();
    let gt = gt.to_str().unwrap().to_string();
    let path = path_with(&opencode);

    let work = format!(
        "printf 'landed by opencode\\n' > proof.txt && git add proof.txt && \
         git commit -q -m 'add proof.txt' && '{gt}' done && echo DONE-OK"
    );
    let script = Script::new()
        .when(
            when::last_tool_result_contains("DONE-OK"),
            Reply::text("Finished."),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell(&work),
        )
        .otherwise(Reply::text("Nothing more to do."));
    let server = ModelServer::start(script).unwrap();

    // The provider as a user configures it; the key is read from the
    // caller's environment, which the preset passes (`OPENAI_*`).
    let config = t.home.join(".config/opencode");
    std::fs::create_dir_all(&config).unwrap();
    let provider = serde_json::json!({
        "provider": { "scripted": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Scripted",
            "options": {
                "baseURL": format!("{}/v1", server.base_url()),
                "apiKey": "{env:OPENAI_API_KEY}",
            },
            "models": { "scripted-model": { "name": "Scripted model" } },
        } },
        "model": "scripted/scripted-model",
        "permission": { "bash": "allow", "edit": "allow" },
    });
    std::fs::write(config.join("opencode.json"), provider.to_string()).unwrap();
    let caller: Vec<(&str, &str)> = vec![
        ("PATH", &path),
        ("OPENAI_API_KEY", SECRET),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
        ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"),
    ];

    let out = t.ok_env(
        &caller,
        &[
            "--json",
            "sling",
            "add a proof file",
            "app",
            "--agent",
            "opencode",
        ],
    );
    let slung: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let bead = slung["bead"].as_str().unwrap().to_string();
    let wt = PathBuf::from(slung["worktree"].as_str().unwrap());
    let session = slung["session"].as_str().unwrap().to_string();
    let socket = gt_lib::tmux::socket_name_for(&t.root);
    let screen = || {
        std::process::Command::new("tmux")
            .args(["-L", &socket, "capture-pane", "-p", "-t", &session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
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

    t.ok(&["refinery", "run", "--once"]);
    let landed = git(&t.repo("app"), &["show", "main:proof.txt"]);
    assert_eq!(landed, "landed by opencode\n");

    assert_nothing_left(&t);
    assert_never_stored(&t, SECRET);
}
