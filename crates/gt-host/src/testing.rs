//! In-memory fakes of this machine's effects, for unit tests of the services
//! (cargo feature `testing`; never part of the `gt` binary).
//!
//! - [`FakeTmux`]: a tmux server in a map. Sessions start alive, a test
//!   kills their panes, removes them, sets what their screens show, and reads
//!   back every call the code under test made ([`TmuxCall`]).
//! - [`SettableClock`]: a clock that stands still until the test sets or
//!   advances it, shared by the store (timestamps) and the services (ages,
//!   backoffs), so "five minutes later" takes no time.
//!
//! Git has no fake: the services call about thirty git operations whose
//! meaning is the repository's state, and real `git` on a temporary
//! repository is fast and local. Unit tests use [`crate::git::GitCli`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::git::GitCli;
use crate::tmux::{validate_session_name, SessionInfo, Tmux};

/// A [`GitCli`] that sees no global/system git configuration and no
/// identity from the environment: `HOME` and `XDG_CONFIG_HOME` point into
/// `home` (an empty directory owned by the test).
pub fn isolated_git(home: &Path) -> GitCli {
    let mut git = GitCli::new()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"));
    for var in [
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
    ] {
        git = git.env_remove(var);
    }
    git
}

/// A clock that answers the instant it was last set to.
#[derive(Debug)]
pub struct SettableClock(Mutex<OffsetDateTime>);

impl SettableClock {
    pub fn new(start: OffsetDateTime) -> Self {
        SettableClock(Mutex::new(start))
    }

    /// A fixed, readable start: 2026-01-01T00:00:00Z.
    pub fn at_default() -> Self {
        Self::new(time::macros::datetime!(2026-01-01 00:00:00 UTC))
    }

    pub fn set(&self, t: OffsetDateTime) {
        *self.lock() = t;
    }

    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, d: time::Duration) {
        let mut t = self.lock();
        *t += d;
    }

    fn lock(&self) -> MutexGuard<'_, OffsetDateTime> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for SettableClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

/// One call made on a [`FakeTmux`], in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmuxCall {
    NewSession {
        name: String,
        cwd: PathBuf,
        env: Vec<(String, String)>,
        argv: Vec<String>,
    },
    KillSession(String),
    KillSessionLater(String, u32),
    SendLiteral(String, String),
    SendEnter(String),
    RespawnPane {
        name: String,
        argv: Vec<String>,
    },
    KillServer,
}

/// A session of a [`FakeTmux`].
#[derive(Debug, Clone)]
pub struct FakeSession {
    pub info: SessionInfo,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub argv: Vec<String>,
    /// What `capture_pane` shows.
    pub screen: String,
}

impl FakeSession {
    /// The value of `key` in the session's environment.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    sessions: BTreeMap<String, FakeSession>,
    calls: Vec<TmuxCall>,
    /// Errors the next `new_session` calls return (in order).
    fail_starts: Vec<String>,
    /// New sessions start with a dead pane and this exit code.
    start_dead: Option<Option<i32>>,
    /// What a new session's screen shows.
    start_screen: String,
    next_pid: u32,
}

/// An in-memory tmux server (see the module documentation).
pub struct FakeTmux {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl FakeTmux {
    /// A server with no sessions; `clock` stamps creation and activity.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        FakeTmux {
            clock,
            state: Mutex::new(State {
                next_pid: 10_000,
                ..Default::default()
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn with_session<T>(&self, name: &str, f: impl FnOnce(&mut FakeSession) -> T) -> Result<T> {
        let mut st = self.state();
        let s = st
            .sessions
            .get_mut(name)
            .ok_or_else(|| Error::not_found("tmux session", name))?;
        Ok(f(s))
    }

    // ---- what a test arranges -------------------------------------------

    /// The next `new_session` fails with `Error::Environment(message)`.
    pub fn fail_next_start(&self, message: &str) {
        self.state().fail_starts.push(message.to_string());
    }

    /// New sessions start with a dead pane (`Some(code)` or `None` for a
    /// signal): an agent that exits at once. `None` undoes it.
    pub fn start_dead(&self, exit: Option<Option<i32>>) {
        self.state().start_dead = exit;
    }

    /// What the screens of sessions started from now on show.
    pub fn start_screen(&self, screen: &str) {
        self.state().start_screen = screen.to_string();
    }

    /// The pane's command exits with `code` (`None`: killed by a signal).
    pub fn kill_pane(&self, name: &str, code: Option<i32>) -> Result<()> {
        self.with_session(name, |s| {
            s.info.pane_dead = true;
            s.info.dead_status = code;
            s.info.dead_signal = code.is_none().then_some(9);
        })
    }

    /// The session disappears (a human killed it, the server was restarted).
    pub fn remove_session(&self, name: &str) -> bool {
        self.state().sessions.remove(name).is_some()
    }

    /// The pane now shows `screen`; its activity is the clock's now.
    pub fn set_screen(&self, name: &str, screen: &str) -> Result<()> {
        let now = self.now_secs();
        self.with_session(name, |s| {
            s.screen = screen.to_string();
            s.info.activity = now;
        })
    }

    // ---- what a test reads back -------------------------------------------

    pub fn session(&self, name: &str) -> Option<FakeSession> {
        self.state().sessions.get(name).cloned()
    }

    pub fn session_names(&self) -> Vec<String> {
        self.state().sessions.keys().cloned().collect()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<TmuxCall> {
        self.state().calls.clone()
    }

    /// The text typed into session `name` (`send_literal`), call by call.
    pub fn sent_text(&self, name: &str) -> Vec<String> {
        self.state()
            .calls
            .iter()
            .filter_map(|c| match c {
                TmuxCall::SendLiteral(n, t) if n == name => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many sessions named `name` were started.
    pub fn starts(&self, name: &str) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| matches!(c, TmuxCall::NewSession { name: n, .. } if n == name))
            .count()
    }
}

impl Tmux for FakeTmux {
    fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        validate_session_name(name)?;
        let now = self.now_secs();
        let mut st = self.state();
        st.calls.push(TmuxCall::NewSession {
            name: name.to_string(),
            cwd: cwd.to_path_buf(),
            env: env.to_vec(),
            argv: argv.to_vec(),
        });
        if !st.fail_starts.is_empty() {
            let msg = st.fail_starts.remove(0);
            return Err(Error::Environment(msg));
        }
        if st.sessions.contains_key(name) {
            return Err(Error::refused(format!("tmux session {name} exists")));
        }
        if !cwd.is_dir() {
            return Err(Error::not_found("directory", cwd.display().to_string()));
        }
        st.next_pid += 1;
        let dead = st.start_dead;
        let info = SessionInfo {
            name: name.to_string(),
            created: now,
            attached: false,
            pane_pid: Some(st.next_pid),
            pane_dead: dead.is_some(),
            dead_status: dead.flatten(),
            dead_signal: dead.and_then(|c| c.is_none().then_some(9)),
            activity: now,
            current_command: argv.first().cloned().unwrap_or_default(),
        };
        let screen = st.start_screen.clone();
        st.sessions.insert(
            name.to_string(),
            FakeSession {
                info,
                cwd: cwd.to_path_buf(),
                env: env.to_vec(),
                argv: argv.to_vec(),
                screen,
            },
        );
        Ok(())
    }

    fn has_session(&self, name: &str) -> Result<bool> {
        Ok(self.state().sessions.contains_key(name))
    }

    fn kill_session(&self, name: &str) -> Result<bool> {
        let mut st = self.state();
        st.calls.push(TmuxCall::KillSession(name.to_string()));
        Ok(st.sessions.remove(name).is_some())
    }

    fn kill_session_later(&self, name: &str, delay_secs: u32) -> Result<()> {
        self.state()
            .calls
            .push(TmuxCall::KillSessionLater(name.to_string(), delay_secs));
        Ok(())
    }

    fn list_sessions(&self) -> Result<Vec<SessionInfo>> {
        Ok(self
            .state()
            .sessions
            .values()
            .map(|s| s.info.clone())
            .collect())
    }

    fn capture_pane(&self, name: &str, lines: usize) -> Result<String> {
        self.with_session(name, |s| {
            let all: Vec<&str> = s.screen.lines().map(str::trim_end).collect();
            let end = all.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
            all[end.saturating_sub(lines)..end].join("\n")
        })
    }

    fn send_literal(&self, name: &str, text: &str) -> Result<()> {
        let now = self.now_secs();
        self.with_session(name, |s| {
            s.info.activity = now;
        })?;
        self.state()
            .calls
            .push(TmuxCall::SendLiteral(name.to_string(), text.to_string()));
        Ok(())
    }

    fn send_enter(&self, name: &str) -> Result<()> {
        self.with_session(name, |_| ())?;
        self.state()
            .calls
            .push(TmuxCall::SendEnter(name.to_string()));
        Ok(())
    }

    fn respawn_pane(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        let now = self.now_secs();
        let mut st = self.state();
        st.next_pid += 1;
        let pid = st.next_pid;
        let s = st
            .sessions
            .get_mut(name)
            .ok_or_else(|| Error::not_found("tmux session", name))?;
        s.info.pane_dead = false;
        s.info.dead_status = None;
        s.info.dead_signal = None;
        s.info.pane_pid = Some(pid);
        s.info.activity = now;
        s.cwd = cwd.to_path_buf();
        s.env = env.to_vec();
        s.argv = argv.to_vec();
        st.calls.push(TmuxCall::RespawnPane {
            name: name.to_string(),
            argv: argv.to_vec(),
        });
        Ok(())
    }

    fn attach_command(&self, name: &str) -> Result<Vec<String>> {
        Ok(vec![
            "tmux".into(),
            "attach-session".into(),
            "-t".into(),
            format!("={name}"),
        ])
    }

    fn kill_server(&self) -> Result<()> {
        let mut st = self.state();
        st.calls.push(TmuxCall::KillServer);
        st.sessions.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> (Arc<SettableClock>, FakeTmux) {
        let clock = Arc::new(SettableClock::at_default());
        let tmux = FakeTmux::new(clock.clone());
        (clock, tmux)
    }

    #[test]
    fn settable_clock_advances_only_when_told() {
        let c = SettableClock::at_default();
        let t0 = c.now();
        assert_eq!(c.now(), t0);
        c.advance(time::Duration::minutes(5));
        assert_eq!(c.now() - t0, time::Duration::minutes(5));
        c.set(t0);
        assert_eq!(c.now(), t0);
    }

    #[test]
    fn sessions_live_die_and_vanish() {
        let (clock, t) = fake();
        let dir = tempfile::tempdir().unwrap();
        let argv = vec!["agent".to_string(), "--x".to_string()];
        t.new_session("gt-a-P-b", dir.path(), &[("K".into(), "v".into())], &argv)
            .unwrap();
        assert!(matches!(
            t.new_session("gt-a-P-b", dir.path(), &[], &argv),
            Err(Error::Refused(_))
        ));
        let info = t.session_info("gt-a-P-b").unwrap().unwrap();
        assert!(!info.pane_dead);
        assert_eq!(info.created, clock.now().unix_timestamp());
        assert_eq!(info.current_command, "agent");
        assert_eq!(t.session("gt-a-P-b").unwrap().env_var("K"), Some("v"));
        t.kill_pane("gt-a-P-b", Some(3)).unwrap();
        assert!(t.pane_dead("gt-a-P-b").unwrap());
        assert_eq!(t.pane_dead_status("gt-a-P-b").unwrap(), Some(3));
        t.respawn_pane("gt-a-P-b", dir.path(), &[], &argv).unwrap();
        assert!(!t.pane_dead("gt-a-P-b").unwrap());
        assert!(t.remove_session("gt-a-P-b"));
        assert_eq!(t.session_info("gt-a-P-b").unwrap(), None);
        assert!(matches!(
            t.pane_dead("gt-a-P-b"),
            Err(Error::NotFound { .. })
        ));
        assert!(!t.kill_session("gt-a-P-b").unwrap());
    }

    #[test]
    fn screens_keys_and_calls_are_recorded() {
        let (clock, t) = fake();
        let dir = tempfile::tempdir().unwrap();
        t.start_screen("welcome\n\n");
        t.new_session("s1", dir.path(), &[], &["a".into()]).unwrap();
        assert_eq!(t.capture_pane("s1", 5).unwrap(), "welcome");
        clock.advance(time::Duration::seconds(30));
        t.set_screen("s1", "one  \ntwo\nthree\n\n").unwrap();
        assert_eq!(t.capture_pane("s1", 2).unwrap(), "two\nthree");
        assert_eq!(
            t.session_info("s1").unwrap().unwrap().activity,
            clock.now().unix_timestamp()
        );
        t.send_literal("s1", "hello; world").unwrap();
        t.send_enter("s1").unwrap();
        assert!(t.send_literal("nope", "x").is_err());
        assert_eq!(t.sent_text("s1"), vec!["hello; world".to_string()]);
        assert_eq!(t.starts("s1"), 1);
        assert_eq!(t.calls().last(), Some(&TmuxCall::SendEnter("s1".into())));
        assert_eq!(t.list_sessions().unwrap().len(), 1);
        t.kill_server().unwrap();
        assert!(t.list_sessions().unwrap().is_empty());
    }

    #[test]
    fn failed_and_dead_starts() {
        let (_, t) = fake();
        let dir = tempfile::tempdir().unwrap();
        t.fail_next_start("no server");
        assert!(matches!(
            t.new_session("s1", dir.path(), &[], &["a".into()]),
            Err(Error::Environment(_))
        ));
        assert!(!t.has_session("s1").unwrap());
        t.start_dead(Some(Some(127)));
        t.new_session("s1", dir.path(), &[], &["a".into()]).unwrap();
        assert_eq!(t.pane_dead_status("s1").unwrap(), Some(127));
        assert!(t
            .new_session("s2", &dir.path().join("missing"), &[], &["a".into()])
            .is_err());
    }
}
