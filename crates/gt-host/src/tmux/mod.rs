//! The tmux seam: every agent session of gt lives in tmux, driven only
//! through the [`Tmux`] trait.
//!
//! [`TmuxCli`] runs the `tmux` command line with `std::process::Command`,
//! each argument passed separately, always on a PRIVATE server
//! (`tmux -L <socket>`, one per town, see [`socket_name_for`]) and always
//! with `-f /dev/null`, so the user's default server and `~/.tmux.conf` never
//! play a part.
//!
//! Facts about tmux 3.3a this module relies on (checked empirically, and by
//! the tests below):
//! - `new-session ... CMD` with ONE command argument runs it through
//!   `sh -c`; with two or more it `execvp`s them directly. gt therefore
//!   always starts `env -- ARGV...`, so the argv is never seen by a shell
//!   (and `argv[0]` must not contain `=`, which `env` would read as an
//!   assignment).
//! - tmux splits its command line into several commands at every argument
//!   that ENDS with `;` — also inside `send-keys -l` text, `-e` values and
//!   the command's argv. An argument ending in `\;` stands for the same
//!   argument ending in `;`. `escape_arg` applies this to every argument
//!   that carries caller text.
//! - `-c <dir>` is format-expanded (`#{...}`): `#` is doubled. A directory
//!   that does not exist is silently replaced by another one, so it is
//!   checked first.
//! - `-e` values and command arguments are NOT format-expanded.
//! - `send-keys -l -- TEXT` sends TEXT literally (no key names like `C-c`
//!   or `Enter`, no formats, no options), UTF-8 included. A single tmux
//!   command line is limited to about 16 KiB ("command too long"), so text
//!   is sent in chunks.
//! - Targets: a session is matched exactly with `-t =NAME`; a pane target
//!   needs `-t =NAME:` (`=NAME` alone is not found as a pane).
//! - `kill-server` does not remove the socket file.
//! - A server whose last session ends exits; a client connecting at that
//!   moment gets "server exited unexpectedly" ([`Tmux::new_session`] tries
//!   again).
//! - A pane's exit status can lag behind `pane_dead`, and tmux 3.3a
//!   sometimes misses a pane process's SIGCHLD entirely until another child
//!   of the server exits; [`Tmux::list_sessions`] nudges it (see there).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Width and height of a new session's window (before a client attaches).
const WIDTH: &str = "200";
const HEIGHT: &str = "50";

/// Text sent per `send-keys -l` argument, in bytes.
const CHUNK: usize = 1024;
/// Chunks per tmux invocation (keeps a command line well under 16 KiB).
const CHUNKS_PER_CALL: usize = 8;

/// Field separator for `-F` formats: a control character, which session
/// names cannot contain.
const SEP: char = '\u{1f}';

/// What tmux knows about a session (and its single pane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// Whether a client (a human) is attached.
    pub attached: bool,
    /// Process id of the pane's command (kept by tmux after it exits).
    pub pane_pid: Option<u32>,
    /// The pane's command has exited (the pane stays, `remain-on-exit`).
    pub pane_dead: bool,
    /// Exit code of a dead pane's command; `None` while alive or when it
    /// was killed by a signal. tmux may report the pane dead a moment
    /// before it knows the status.
    pub dead_status: Option<i32>,
    /// Signal that killed a dead pane's command (tmux 3.3+), like
    /// `dead_status` possibly a moment late.
    pub dead_signal: Option<i32>,
    /// Last time the window had output, seconds since the Unix epoch
    /// (tmux's `window_activity`): a screen cannot have changed since.
    pub activity: i64,
    /// Name of the program running in the pane (tmux's `pane_current_command`).
    pub current_command: String,
}

/// Every tmux operation gt needs. Object-safe, so callers hold `&dyn Tmux` or
/// `Arc<dyn Tmux>`. `name` is always a session name (see
/// [`validate_session_name`]); a session that does not exist is
/// `Error::NotFound { what: "tmux session", .. }` unless said otherwise.
pub trait Tmux: Send + Sync {
    /// Starts a detached session `name` running `argv` directly (never
    /// through a shell) in `cwd`, with `env` added to its environment. The
    /// window keeps its pane after the command exits (`remain-on-exit on`),
    /// so [`Tmux::session_info`] can report the exit code. `Refused` when the
    /// session exists.
    fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()>;

    /// Whether session `name` exists (exact name match).
    fn has_session(&self, name: &str) -> Result<bool>;

    /// Kills session `name` and ends its pane's whole process tree: the
    /// pane process, its descendants, their process groups and what is left
    /// in the pane's terminal session get SIGTERM, then SIGKILL after a
    /// grace of about 2 s (`TmuxCli`, on Linux; see the `tree` module).
    /// Returns `false` when there was no such session.
    fn kill_session(&self, name: &str) -> Result<bool>;

    /// Asks the tmux server to kill session `name` after `delay_secs`
    /// seconds and returns at once: for a process running inside that
    /// session, which would otherwise kill itself mid-command. The pane's
    /// process tree (as of this call, the caller excepted) is ended then as
    /// with [`Tmux::kill_session`]. Nothing happens if the session is gone
    /// by then.
    fn kill_session_later(&self, name: &str, delay_secs: u32) -> Result<()>;

    /// All sessions of the server, sorted by name; empty when no server runs.
    /// (`TmuxCli`: when a pane is dead but its exit is not known yet, it
    /// nudges the server to reap and asks again, about 50 ms later.)
    fn list_sessions(&self) -> Result<Vec<SessionInfo>>;

    /// One session, `None` when it does not exist.
    fn session_info(&self, name: &str) -> Result<Option<SessionInfo>> {
        Ok(self.list_sessions()?.into_iter().find(|s| s.name == name))
    }

    /// Whether the session's command has exited.
    fn pane_dead(&self, name: &str) -> Result<bool> {
        Ok(require(self.session_info(name)?, name)?.pane_dead)
    }

    /// Exit code of the session's exited command (`None` while it runs,
    /// when a signal killed it, or for a moment after it exited).
    fn pane_dead_status(&self, name: &str) -> Result<Option<i32>> {
        Ok(require(self.session_info(name)?, name)?.dead_status)
    }

    /// Process id of the session's command.
    fn pane_pid(&self, name: &str) -> Result<Option<u32>> {
        Ok(require(self.session_info(name)?, name)?.pane_pid)
    }

    /// The last `lines` lines of the pane (history included), wrapped lines
    /// joined, trailing whitespace of each line and trailing empty lines
    /// removed.
    fn capture_pane(&self, name: &str, lines: usize) -> Result<String>;

    /// [`Tmux::capture_pane`] with the screen's colours and attributes kept
    /// as ANSI escape sequences (for the web dashboard). Fakes without
    /// colours return the plain text.
    fn capture_pane_styled(&self, name: &str, lines: usize) -> Result<String> {
        self.capture_pane(name, lines)
    }

    /// Types `text` into the pane byte for byte: never read as key names,
    /// formats, options or shell. Control characters are sent as they are
    /// (a `\n` or `\x03` reaches the program like a keypress would): the
    /// caller decides what text is acceptable. No Enter is added.
    fn send_literal(&self, name: &str, text: &str) -> Result<()>;

    /// Presses Enter in the pane.
    fn send_enter(&self, name: &str) -> Result<()>;

    /// Replaces the command of session `name`'s pane by `argv` (run directly,
    /// as in [`Tmux::new_session`]) in `cwd`, with `env` added: tmux kills
    /// the old command (`respawn-pane -k`). The tmux server does it, so a
    /// process running inside that pane may call this to restart itself (it
    /// is killed in the process; the tmux client is in its own process
    /// group, so the respawn completes).
    fn respawn_pane(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        let _ = (cwd, env, argv);
        Err(Error::Internal(format!(
            "respawn_pane is not supported by this tmux seam (session {name})"
        )))
    }

    /// The argv a human runs to attach to the session (the CLI execs it).
    /// Inside another tmux, the caller should remove `TMUX` from the
    /// environment first, or tmux refuses to nest.
    fn attach_command(&self, name: &str) -> Result<Vec<String>>;

    /// Stops the server and every session in it, ending each pane's process
    /// tree as [`Tmux::kill_session`] does. Ok when none runs.
    fn kill_server(&self) -> Result<()>;
}

fn require(info: Option<SessionInfo>, name: &str) -> Result<SessionInfo> {
    info.ok_or_else(|| Error::not_found("tmux session", name))
}

/// The private tmux socket name of a town: `gt-` and 8 hex digits of a hash
/// of the town's canonical path (the path as given if it cannot be
/// canonicalized).
pub fn socket_name_for(town_root: &Path) -> String {
    let path = town_root
        .canonicalize()
        .unwrap_or_else(|_| town_root.to_path_buf());
    let digest = Sha256::digest(path_bytes(&path));
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("gt-{hex}")
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().as_bytes().to_vec()
}

mod cli;
mod escape;
mod tree;

pub use cli::TmuxCli;
pub(crate) use escape::escape_arg;
pub use escape::validate_session_name;
// The split files share their helpers through the parent (`pub(super)`).
#[cfg(test)]
use cli::*;
use escape::*;

/// Helpers for tests of this and other modules: a private tmux server.
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
