//! The scripted model server driving the real OpenCode (`opencode run --auto`, an `@ai-sdk/openai-compatible` provider).
//!
//! Finds the CLI from `GT_TEST_OPENCODE`; skips with one line locally when unset, fails when `CI` is set.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{Api, ModelServer};
use gt_testkit::real_cli;

#[test]
fn opencode_runs_one_command_from_the_scripted_model() {
    let Some(opencode) = real_cli::locate("GT_TEST_OPENCODE", "opencode") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = real_cli::proof_script();
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
    let out = real_cli::run_ok("opencode", cmd, Duration::from_secs(120), &server);
    let (stdout, _stderr) = (&out.stdout, &out.stderr);

    let turns = real_cli::assert_proof(work.path(), &out, &server, Api::Chat);
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer scripted-token")));
    assert!(stdout.contains("The file is there."), "stdout: {stdout}");
}
