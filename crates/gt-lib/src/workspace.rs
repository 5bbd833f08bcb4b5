//! A town opened for work: the store plus the seams to git and tmux, and the
//! paths of rigs, repositories and worktrees.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::git::{Git, GitCli};
use crate::store::Store;
use crate::tmux::{Tmux, TmuxCli};
use crate::town::Town;
use gt_core::caller::CallerEnv;

/// A town opened on this machine. The line a multi-machine town draws runs
/// through it: [`Workspace::town`] and [`Workspace::store`] are what every
/// host of the town shares (layout, config, the store); [`Workspace::host`]
/// is this machine's (git, the town's tmux server here, the clock, the `gt`
/// binary); [`Workspace::caller`] is the process that asked.
pub struct Workspace {
    pub town: Town,
    /// The town's store, behind the traits (opened by [`Town::store`]).
    pub store: Box<dyn Store + Send>,
    /// This machine's effects.
    pub host: Host,
    /// The caller's environment (`GT_AGENT`, `PATH`, what runtimes pass on):
    /// read by the CLI, never by the library.
    pub caller: CallerEnv,
}

/// This machine's effects: the real ones in [`Workspace::open`], fakes
/// (`gt_host::testing`) in unit tests ([`Workspace::with_host`]).
pub struct Host {
    pub git: Arc<dyn Git>,
    pub tmux: Arc<dyn Tmux>,
    /// The one clock of the town: the store stamps with it, the services
    /// measure ages and backoffs with it.
    pub clock: Arc<dyn Clock>,
    /// The `gt` binary agents call back (first on their PATH).
    pub gt_exe: PathBuf,
    /// How long a sling watches a new session for an agent that dies at
    /// once (one look when zero: a fake tmux does not change by itself).
    pub start_watch: Duration,
    /// The pause between typing a text into an agent's TUI and pressing
    /// Enter: a TUI that reads a fast burst of keys as a paste (Claude Code)
    /// swallows an Enter that arrives with it, and the text is never sent.
    pub submit_pause: Duration,
}

/// How long a new session is watched for an agent that dies at once.
pub const START_WATCH: Duration = Duration::from_millis(400);

/// See [`Host::submit_pause`].
pub const SUBMIT_PAUSE: Duration = Duration::from_millis(500);

/// Folder of a rig's bare repository, inside the rig folder.
pub use gt_core::layout::REPO_DIR;
/// Folder holding the polecats' worktrees, inside the rig folder.
pub const POLECATS_DIR: &str = "polecats";

impl Workspace {
    /// Opens `town` with the real git, the town's private tmux server and the
    /// running `gt` binary, for a caller with environment `caller`.
    pub fn open(town: Town, caller: CallerEnv) -> Result<Self> {
        let mut town = town.with_caller(&caller);
        let store = town.store()?;
        town.apply_shared(&store)?;
        let tmux = TmuxCli::for_town(town.root());
        let gt_exe = std::env::current_exe()
            .map_err(|e| Error::io("cannot find the running gt binary", e))?;
        let git = GitCli::new().for_town(town.root());
        let clock = town.clock().clone();
        Ok(Workspace {
            town,
            store,
            host: Host {
                git: Arc::new(git),
                tmux: Arc::new(tmux),
                clock,
                gt_exe,
                start_watch: START_WATCH,
                submit_pause: SUBMIT_PAUSE,
            },
            caller,
        })
    }

    /// Types `text` into the TUI of tmux session `name`, pauses
    /// [`Host::submit_pause`], and presses Enter: how gt submits a
    /// nudge or a typed first instruction.
    pub fn submit_text(&self, name: &str, text: &str) -> Result<()> {
        self.host.tmux.send_literal(name, text)?;
        if !self.host.submit_pause.is_zero() {
            std::thread::sleep(self.host.submit_pause);
        }
        self.host.tmux.send_enter(name)
    }

    /// Opens `town` on the given effects (unit tests run the services on
    /// a fake tmux and a settable clock this way) for a caller with
    /// environment `caller`. The town and its store share `host.clock`.
    pub fn with_host(town: Town, host: Host, caller: CallerEnv) -> Result<Self> {
        let mut town = town.with_clock(host.clock.clone()).with_caller(&caller);
        let store = town.store()?;
        town.apply_shared(&store)?;
        Ok(Workspace {
            town,
            store,
            host,
            caller,
        })
    }

    /// Whether this host runs session `s` (a session recorded before towns
    /// had hosts is this host's: such a town has only one).
    pub fn runs_here(&self, s: &crate::session::Session) -> bool {
        s.host.as_deref().is_none_or(|h| h == self.town.host_name())
    }

    /// The open sessions this host runs (of `rig`, if given): what the
    /// host's patrol, tmux checks and capacity look at. Other hosts'
    /// sessions are theirs to watch.
    pub fn open_sessions_here(&self, rig: Option<&str>) -> Result<Vec<crate::session::Session>> {
        let mut open = crate::store::WorkStore::list_sessions(
            &self.store,
            &crate::store::SessionFilter {
                open_only: true,
                rig,
                ..Default::default()
            },
        )?;
        open.retain(|s| self.runs_here(s));
        Ok(open)
    }

    pub fn rig_dir(&self, rig: &str) -> PathBuf {
        self.town.root().join(rig)
    }

    pub fn repo_dir(&self, rig: &str) -> PathBuf {
        self.rig_dir(rig).join(REPO_DIR)
    }

    pub fn worktree(&self, rig: &str, polecat: &str) -> PathBuf {
        self.rig_dir(rig).join(POLECATS_DIR).join(polecat)
    }

    /// The tmux session of a polecat. `-P-` cannot occur in rig or polecat
    /// names (no uppercase), so the name maps back to exactly one polecat.
    pub fn session_name(rig: &str, polecat: &str) -> String {
        format!("gt-{rig}-P-{polecat}")
    }

    /// The polecat whose worktree contains `dir`.
    pub fn polecat_at(&self, dir: &Path) -> Option<(String, String)> {
        let rel = dir.strip_prefix(self.town.root()).ok()?;
        let mut parts = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let rig = parts.next()?;
        (parts.next()? == POLECATS_DIR).then_some(())?;
        let polecat = parts.next()?;
        crate::polecat::validate_name("rig", &rig).ok()?;
        crate::polecat::validate_name("polecat", &polecat).ok()?;
        Some((rig, polecat))
    }

    /// Serializes worktree operations on one rig across processes. The lock
    /// is released when the returned guard is dropped.
    pub fn lock_rig(&self, rig: &str) -> Result<RigLock> {
        self.lock(&format!("rig-{rig}"))
    }

    /// An exclusive lock across processes on `.gt/run/<name>.lock`, held
    /// until the guard is dropped (waits while another process holds it).
    pub fn lock(&self, name: &str) -> Result<RigLock> {
        let dir = self.town.state_dir().join("run");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let path = dir.join(format!("{name}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open lock {}", path.display()), e))?;
        file.lock()
            .map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
        Ok(RigLock { _file: file })
    }
}

/// Held while a rig's worktrees change (or another named lock is held).
pub struct RigLock {
    _file: File,
}

/// Finds `program` the way `execvp` would: a path with a `/` as it is, else
/// the first executable file of that name on `PATH`.
pub fn find_program(program: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_unambiguous() {
        assert_eq!(Workspace::session_name("a", "b--c"), "gt-a-P-b--c");
        assert_ne!(
            Workspace::session_name("a", "b--c"),
            Workspace::session_name("a--b", "c")
        );
    }

    #[test]
    fn programs_on_path() {
        let path = std::env::var_os("PATH");
        assert!(find_program("sh", path.as_deref()).is_some());
        assert!(find_program("definitely-not-a-program-gt", path.as_deref()).is_none());
        assert!(find_program("/bin/sh", None).is_some());
    }
}
