//! The scripted model server driving the real Aider (`aider --message`, its "whole" edit format; aider has no
//! shell tool, so the scripted reply is a file in that format, which aider applies and commits).
//!
//! Finds the CLI from `GT_TEST_AIDER`; skips with one line locally when unset, fails when `CI` is set.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{Api, ModelServer, Reply, Script};
use gt_testkit::real_cli;

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn aider_applies_and_commits_a_whole_file_from_the_scripted_model() {
    let Some(aider) = real_cli::locate("GT_TEST_AIDER", "aider") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "-q", "-b", "main"]);
    git(
        work.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
    );

    let script = Script::new().otherwise(Reply::text("proof.txt\n```\nPROOF-OK\n```\n"));
    let server = ModelServer::start(script).unwrap();
    let base = format!("{}/v1", server.base_url());
    let mut cmd = Command::new(&aider);
    cmd.args([
        "--model",
        "openai/scripted-model",
        "--openai-api-base",
        base.as_str(),
        "--openai-api-key",
        "scripted-token",
        "--edit-format",
        "whole",
        "--yes-always",
        "--no-check-update",
        "--analytics-disable",
        "--no-show-release-notes",
        "--no-show-model-warnings",
        "--no-pretty",
        "--message",
        "Create the file proof.txt containing PROOF-OK.",
    ])
    .current_dir(work.path())
    .env_clear()
    .env("PATH", real_cli::test_path())
    .env("HOME", home.path())
    .env("GIT_AUTHOR_NAME", "aider-test")
    .env("GIT_AUTHOR_EMAIL", "aider@test")
    .env("GIT_COMMITTER_NAME", "aider-test")
    .env("GIT_COMMITTER_EMAIL", "aider@test");
    let out = real_cli::run_ok("aider", cmd, Duration::from_secs(180), &server);
    let (stdout, stderr) = (&out.stdout, &out.stderr);

    let proof = std::fs::read_to_string(work.path().join("proof.txt"))
        .unwrap_or_else(|e| panic!("proof.txt: {e}; stdout: {stdout}\nstderr: {stderr}"));
    assert_eq!(proof.trim(), "PROOF-OK");
    let log = git(
        work.path(),
        &["log", "--format=%s", "-n", "1", "--", "proof.txt"],
    );
    assert!(
        !log.trim().is_empty(),
        "aider did not commit proof.txt; stdout: {stdout}"
    );
    let turns = server.requests_for(Api::Chat);
    assert!(turns
        .iter()
        .any(|r| r.wants_stream() && r.contains("PROOF-OK")));
    assert!(turns
        .iter()
        .any(|r| r.header("authorization") == Some("Bearer scripted-token")));
}
