//! The scripted model server driving the real Claude Code (`claude -p`, print mode).
//!
//! Finds the CLI from `GT_TEST_CLAUDE` (path to the `claude` binary). Without it the test prints one line and
//! returns — unless `CI` is set, where a missing CLI fails the test.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{when, ModelServer, Reply, Script};
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
    let out = real_cli::run(cmd, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}; requests seen: {:#?}", server.requests()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "claude failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );

    assert!(
        work.path().join("proof.txt").is_file(),
        "proof.txt missing; stdout: {stdout}"
    );
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.last_tool_result().is_some_and(|t| t.contains("PROOF-OK"))),
        "the server never saw the tool_result; paths: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
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
