//! The scripted model server driving the real Claude Code (`claude -p`, print mode).
//!
//! Finds the CLI from `GT_TEST_CLAUDE` (path to the `claude` binary). Without it the test prints one line and
//! returns — unless `CI` is set, where a missing CLI fails the test.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{Api, ModelServer};
use gt_testkit::real_cli;

#[test]
fn claude_runs_one_bash_command_from_the_scripted_model() {
    let Some(claude) = real_cli::locate("GT_TEST_CLAUDE", "claude") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();

    let script = real_cli::proof_script();
    let server = ModelServer::start(script).unwrap();

    let mut cmd = Command::new(&claude);
    cmd.args([
        "-p",
        "Create the file proof.txt in the current directory.",
        "--output-format",
        "json",
        "--dangerously-skip-permissions",
    ])
    .current_dir(work.path())
    .env_clear()
    .env("PATH", real_cli::test_path())
    .env("HOME", home.path())
    .env("ANTHROPIC_BASE_URL", server.base_url())
    .env("ANTHROPIC_AUTH_TOKEN", "scripted-token")
    .env("DISABLE_AUTOUPDATER", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("IS_SANDBOX", "1");
    let out = real_cli::run_ok("claude", cmd, Duration::from_secs(120), &server);
    let stdout = &out.stdout;

    let requests = real_cli::assert_proof(work.path(), &out, &server, Api::Anthropic);
    assert!(requests
        .iter()
        .all(|r| r.path == "/v1/messages" || r.method == "GET"));
    assert!(requests
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer scripted-token")));
    let result: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("--output-format json");
    assert_eq!(result["result"], "The file is there.", "{stdout}");
}
