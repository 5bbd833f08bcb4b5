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
