//! Finding and running a real agent CLI from a test.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The CLI named by the environment variable `var` (e.g. `GT_TEST_CLAUDE`, the path to the binary).
///
/// Unset or empty: prints `skipped: NAME not installed (set VAR)` and returns `None` — but when `CI` is set it
/// panics instead, so CI never skips. A path that is not a file always panics.
pub fn locate(var: &str, name: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{var}={} is not a file", path.display());
            Some(path)
        }
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{name} not installed: CI is set, so {var} must name the {name} binary (.ci/install-agents.sh)"
            );
            eprintln!("skipped: {name} not installed (set {var})");
            None
        }
    }
}

/// A PATH that finds node and a shell (the npm CLIs are node scripts; their shell tools need `sh`).
pub fn test_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
}

/// Run `cmd` with stdin from /dev/null and captured output; kill it (and report) after `limit`.
pub fn run(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().ok();
                let stderr = out
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                return Err(format!(
                    "{cmd:?} did not finish within {limit:?}; stderr: {stderr}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    }
    child
        .wait_with_output()
        .map_err(|e| format!("reading the output of {cmd:?}: {e}"))
}

/// The script every one-command proof uses: on the first real turn, run
/// `touch proof.txt && echo PROOF-OK` with the API's shell tool; once the
/// tool result says `PROOF-OK`, answer "The file is there." and end the turn.
pub fn proof_script() -> crate::model_server::Script {
    use crate::model_server::{when, Reply, Script};
    Script::new()
        .when(
            when::last_tool_result_contains("PROOF-OK"),
            Reply::text("The file is there."),
        )
        .when(
            when::and(when::offers_tools(), when::user_turn()),
            Reply::shell("touch proof.txt && echo PROOF-OK"),
        )
        .otherwise(Reply::text("Nothing more to do."))
}

/// The output of a CLI run that must succeed.
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
}

/// [`run`] `cmd` (named `name` in messages) within `limit` and asserts it
/// exited 0; on a timeout the server's requests are printed.
pub fn run_ok(
    name: &str,
    cmd: Command,
    limit: Duration,
    server: &crate::model_server::ModelServer,
) -> RunOutput {
    let out =
        run(cmd, limit).unwrap_or_else(|e| panic!("{e}; requests seen: {:#?}", server.requests()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    RunOutput { stdout, stderr }
}

/// After a [`proof_script`] run in `work`: the file is there and `api`'s
/// requests include the tool result that said so. Returns those requests.
pub fn assert_proof(
    work: &std::path::Path,
    out: &RunOutput,
    server: &crate::model_server::ModelServer,
    api: crate::model_server::Api,
) -> Vec<crate::model_server::Request> {
    assert!(
        work.join("proof.txt").is_file(),
        "proof.txt missing; stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let turns = server.requests_for(api);
    assert!(
        turns
            .iter()
            .any(|r| r.last_tool_result().is_some_and(|t| t.contains("PROOF-OK"))),
        "the server never saw the tool result; {} requests",
        turns.len()
    );
    turns
}
