//! The scripted model server driving the real OpenCode (`opencode run --auto`, an `@ai-sdk/openai-compatible` provider).
//!
//! Finds the CLI from `GT_TEST_OPENCODE`; skips with one line locally when unset, fails when `CI` is set.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{when, Api, ModelServer, Reply, Script};
use gt_testkit::real_cli;

#[test]
fn opencode_runs_one_command_from_the_scripted_model() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = Script::new()
        .when(
            when::last_tool_result_contains("PROOF-OK"),
            Reply::text("The file is there."),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell("touch proof.txt && echo PROOF-OK"),
        )
        .otherwise(Reply::text("Nothing more to do."));
    let server = ModelServer::start(script).unwrap();
    let config = home.path().join(".config/opencode");
    std::fs::create_dir_all(&config).unwrap();
    let provider = serde_json::json!({
        "provider": { "scripted": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Scripted",
            "options": { "baseURL": format!("{}/v1", server.base_url()), "apiKey": "scripted-token" },
            "models": { "scripted-model": { "name": "Scripted model" } },
        } },
        "model": "scripted/scripted-model",
        "permission": { "bash": "allow", "edit": "allow" },
    });
    std::fs::write(config.join("opencode.json"), provider.to_string()).unwrap();
    let mut cmd = Command::new(&opencode);
    cmd.args([
        "run",
        "--auto",
        "-m",
        "scripted/scripted-model",
        "Create the file proof.txt in the current directory.",
    ])
    .current_dir(work.path())
    .env_clear()
    .env("PATH", real_cli::test_path())
    .env("HOME", home.path())
    .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
    .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
    .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
    .env("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1");
    let out = real_cli::run(cmd, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}; requests seen: {:#?}", server.requests()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "opencode failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );

    assert!(
        work.path().join("proof.txt").is_file(),
        "proof.txt missing; stdout: {stdout}\nstderr: {stderr}"
    );
    let turns = server.requests_for(Api::Chat);
    assert!(
        turns
            .iter()
            .any(|r| r.last_tool_result().is_some_and(|t| t.contains("PROOF-OK"))),
        "the server never saw the role: tool message; {} requests",
        turns.len()
    );
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer scripted-token")));
    assert!(stdout.contains("The file is there."), "stdout: {stdout}");
}
