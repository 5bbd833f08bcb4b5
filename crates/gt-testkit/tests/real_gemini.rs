//! The scripted model server driving the real Gemini CLI (`gemini -p … --yolo`, `GOOGLE_GEMINI_BASE_URL`).
//!
//! Finds the CLI from `GT_TEST_GEMINI`; skips with one line locally when unset, fails when `CI` is set.

use std::process::Command;
use std::time::Duration;

use gt_testkit::model_server::{Api, ModelServer};
use gt_testkit::real_cli;

#[test]
fn gemini_runs_one_command_from_the_scripted_model() {
    let Some(gemini) = real_cli::locate("GT_TEST_GEMINI", "gemini") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".gemini")).unwrap();
    std::fs::write(
        home.path().join(".gemini/settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
            "general": {"disableAutoUpdate": true, "disableUpdateNag": true},
            "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false}}"#,
    )
    .unwrap();

    let script = real_cli::proof_script();
    let server = ModelServer::start(script).unwrap();
    let mut cmd = Command::new(&gemini);
    cmd.args([
        "-p",
        "Create the file proof.txt in the current directory.",
        "--yolo",
    ])
    .current_dir(work.path())
    .env_clear()
    .env("PATH", real_cli::test_path())
    .env("HOME", home.path())
    .env("GOOGLE_GEMINI_BASE_URL", server.base_url())
    .env("GEMINI_API_KEY", "scripted-token");
    let out = real_cli::run_ok("gemini", cmd, Duration::from_secs(120), &server);
    let (stdout, _stderr) = (&out.stdout, &out.stderr);

    let turns = real_cli::assert_proof(work.path(), &out, &server, Api::Gemini);
    assert!(turns
        .iter()
        .any(|r| r.header("x-goog-api-key") == Some("scripted-token")));
    assert!(stdout.contains("The file is there."), "stdout: {stdout}");
}
