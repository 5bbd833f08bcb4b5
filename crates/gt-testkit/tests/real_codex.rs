//! The scripted model server driving the real Codex (`codex exec`, a custom Responses provider via `-c`).
//!
//! Finds the CLI from `GT_TEST_CODEX`; skips with one line locally when unset, fails when `CI` is set.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{Api, ModelServer};
use gt_testkit::real_cli;

#[test]
fn codex_exec_runs_one_command_from_the_scripted_model() {
    let Some(codex) = real_cli::locate("GT_TEST_CODEX", "codex") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".codex")).unwrap();

    let script = real_cli::proof_script();
    let server = ModelServer::start(script).unwrap();
    let base = format!(
        "model_providers.scripted.base_url=\"{}/v1\"",
        server.base_url()
    );

    let mut cmd = Command::new(&codex);
    cmd.arg("exec");
    for c in [
        "model_provider=\"scripted\"",
        "model_providers.scripted.name=\"scripted\"",
        base.as_str(),
        "model_providers.scripted.env_key=\"SCRIPTED_API_KEY\"",
        "model_providers.scripted.wire_api=\"responses\"",
    ] {
        cmd.args(["-c", c]);
    }
    cmd.args([
        "-m",
        "scripted-model",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "Create the file proof.txt in the current directory.",
    ])
    .current_dir(work.path())
    .env_clear()
    .env("PATH", real_cli::test_path())
    .env("HOME", home.path())
    .env("CODEX_HOME", home.path().join(".codex"))
    .env("SCRIPTED_API_KEY", "scripted-token");
    let out = real_cli::run_ok("codex", cmd, Duration::from_secs(120), &server);
    let stdout = &out.stdout;

    let turns = real_cli::assert_proof(work.path(), &out, &server, Api::Responses);
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer scripted-token")));
    assert!(stdout.contains("The file is there."), "stdout: {stdout}");
}
