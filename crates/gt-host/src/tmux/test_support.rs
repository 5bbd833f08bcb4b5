use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private tmux server for one test: a unique socket name
/// (`gt-test-<pid>-<n>`) inside its own `TMUX_TMPDIR`. Dropping it (also
/// when the test panics) kills the server and deletes the directory with
/// the socket file.
pub(crate) struct TestServer {
    pub(crate) tmux: TmuxCli,
    pub(crate) dir: tempfile::TempDir,
}

impl TestServer {
    pub(crate) fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = format!("gt-test-{}-{n}", std::process::id());
        let tmux = TmuxCli::new(socket)
            .expect("valid socket name")
            .env("TMUX_TMPDIR", dir.path());
        TestServer { tmux, dir }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.tmux.kill_server();
    }
}

/// Polls `cond` every 20 ms for up to 10 s.
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
