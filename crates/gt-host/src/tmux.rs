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

    /// Kills session `name` (tmux sends SIGHUP to its processes). Returns
    /// `false` when there was no such session.
    fn kill_session(&self, name: &str) -> Result<bool>;

    /// Asks the tmux server to kill session `name` after `delay_secs`
    /// seconds and returns at once: for a process running inside that
    /// session, which would otherwise kill itself mid-command. Nothing
    /// happens if the session is gone by then.
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

    /// Stops the server and every session in it. Ok when none runs.
    fn kill_server(&self) -> Result<()>;
}

/// Checks what a new or respawned pane is to run — a program name env can
/// exec, no NUL anywhere, plain environment variable names — and returns its
/// working directory, absolute, existing and UTF-8.
fn checked_launch(cwd: &Path, env: &[(String, String)], argv: &[String]) -> Result<String> {
    let Some(program) = argv.first() else {
        return Err(Error::invalid("a session needs a command to run"));
    };
    if program.is_empty() || program.contains('=') {
        return Err(Error::invalid(format!(
            "invalid program name '{}'",
            program.escape_debug()
        )));
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(Error::invalid("command arguments must not contain NUL"));
    }
    for (k, v) in env {
        let key_ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok || v.contains('\0') {
            return Err(Error::invalid(format!(
                "invalid environment variable '{}'",
                k.escape_debug()
            )));
        }
    }
    let cwd = std::path::absolute(cwd)
        .map_err(|e| Error::io(format!("bad directory {}", cwd.display()), e))?;
    if !cwd.is_dir() {
        return Err(Error::not_found("directory", cwd.display().to_string()));
    }
    let Some(cwd) = cwd.to_str() else {
        return Err(Error::invalid(format!(
            "directory {} is not valid UTF-8",
            cwd.display()
        )));
    };
    Ok(cwd.to_string())
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

/// Session names: 1 to 100 ASCII letters, digits, `-` and `_`, not starting
/// with `-`. This is stricter than tmux needs (it only mangles `.` and `:`):
/// it also keeps out whitespace, control characters, `;`, `#`, `=` and
/// target prefixes like `%`, `$`, `@`.
pub fn validate_session_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid tmux session name '{}': use 1 to 100 letters, digits, '-' or '_'",
            name.escape_debug()
        )))
    }
}

fn validate_socket_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid tmux socket name '{}'",
            name.escape_debug()
        )))
    }
}

/// Protects one argument from tmux's command splitting: an argument ending
/// in `;` separates commands, one ending in `\;` is taken as ending in `;`.
pub(crate) fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_string(),
    }
}

/// [`Tmux`] through the `tmux` command line, on a private server.
#[derive(Debug, Clone)]
pub struct TmuxCli {
    socket: String,
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
}

/// What a finished tmux command left behind.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    /// The failure means "no such session" or "no server at all".
    fn is_missing(&self) -> bool {
        let e = &self.stderr;
        e.contains("can't find session")
            || e.contains("can't find pane")
            || e.contains("can't find window")
            || e.contains("no server running")
            // Targeting anything on a server that has no session left.
            || e.contains("no current target")
            || self.server_vanished()
            || (e.contains("error connecting to")
                && (e.contains("No such file or directory") || e.contains("Connection refused")))
    }
}

impl Output {
    /// The server exited while this client talked to it (it was shutting
    /// down: killed, or its last session ended). The command did nothing.
    fn server_vanished(&self) -> bool {
        self.stderr.contains("server exited unexpectedly") || self.stderr.contains("lost server")
    }
}

impl TmuxCli {
    /// Runs `sub -t =NAME`: `true` when it worked, `false` when there is no
    /// such session (or no server).
    fn on_session(&self, sub: &str, name: &str) -> Result<bool> {
        validate_session_name(name)?;
        let t = session_target(name);
        let out = self.exec(&[os(sub), os("-t"), os(&t)])?;
        if out.status.success() {
            Ok(true)
        } else if out.is_missing() {
            Ok(false)
        } else {
            Err(command_error(sub, &out))
        }
    }

    /// `tmux` from `PATH` on the private server `socket` (letters, digits,
    /// `-`, `_`).
    pub fn new(socket: impl Into<String>) -> Result<Self> {
        let socket = socket.into();
        validate_socket_name(&socket)?;
        Ok(TmuxCli {
            socket,
            program: PathBuf::from("tmux"),
            env: Vec::new(),
        })
    }

    /// The town's server: socket [`socket_name_for`]`(town_root)`.
    pub fn for_town(town_root: &Path) -> Self {
        TmuxCli {
            socket: socket_name_for(town_root),
            program: PathBuf::from("tmux"),
            env: Vec::new(),
        }
    }

    /// Uses another tmux executable.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// Sets an environment variable for every tmux command (e.g.
    /// `TMUX_TMPDIR`). A server started by this client inherits it.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The socket name (`tmux -L` argument).
    pub fn socket(&self) -> &str {
        &self.socket
    }

    fn exec(&self, args: &[&OsStr]) -> Result<Output> {
        let mut cmd = Command::new(&self.program);
        // The user's own tmux (when gt runs inside one) must not leak into
        // the private server or its panes.
        cmd.env_remove("TMUX").env_remove("TMUX_PANE");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg("-L").arg(&self.socket).arg("-f").arg("/dev/null");
        cmd.args(args).stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Environment(format!(
                    "tmux is not installed or not on PATH (cannot run {})",
                    self.program.display()
                ))
            } else {
                Error::io(format!("cannot run {}", self.program.display()), e)
            }
        })?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Where the server's socket file is: `$TMUX_TMPDIR` (this client's
    /// setting, else the process's, else `/tmp`), `tmux-<uid>/<socket>`, as
    /// tmux itself computes it. `None` where the uid cannot be read.
    fn socket_path(&self) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let dir = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "TMUX_TMPDIR")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var_os("TMUX_TMPDIR"))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        Some(dir.join(format!("tmux-{uid}")).join(&self.socket))
    }

    /// Removes the socket file of a server that is gone (tmux 3.3 leaves it
    /// behind when its last session ends). Only a socket nothing listens on
    /// is removed, under tmux's own start lock (`<socket>.lock`, which a
    /// starting server holds until its socket is ready), so a server being
    /// started at that moment is never cut off. Returns whether it removed
    /// the file.
    fn remove_stale_socket(&self) -> bool {
        let Some(path) = self.socket_path() else {
            return false;
        };
        let stale = |p: &Path| {
            matches!(
                std::os::unix::net::UnixStream::connect(p),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        };
        if !stale(&path) {
            return false;
        }
        let mut lock_name = path.clone().into_os_string();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let Ok(lock) = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        else {
            return false;
        };
        if lock.lock().is_err() {
            return false;
        }
        let removed = stale(&path) && std::fs::remove_file(&path).is_ok();
        // tmux removes its lock file the same way once a server is up.
        let _ = std::fs::remove_file(&lock_path);
        drop(lock);
        removed
    }

    /// After a kill: when no session is left, the server exits (a moment
    /// later) and its socket file goes with it.
    fn forget_server_if_empty(&self) {
        let Ok(out) = self.exec(&[os("list-sessions"), os("-F"), os("#{session_name}")]) else {
            return;
        };
        let empty = if out.status.success() {
            out.stdout.trim().is_empty()
        } else {
            out.is_missing()
        };
        if !empty {
            return;
        }
        for _ in 0..25 {
            if self.remove_stale_socket() {
                return;
            }
            match self.socket_path() {
                Some(p) if p.exists() => {}
                _ => return,
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs a command about session `name`: a missing session is `NotFound`.
    fn run_on(&self, name: &str, sub: &str, args: &[&OsStr]) -> Result<String> {
        let out = self.exec(args)?;
        if out.status.success() {
            Ok(out.stdout)
        } else if out.is_missing() {
            Err(Error::not_found("tmux session", name))
        } else {
            Err(command_error(sub, &out))
        }
    }
}

fn command_error(sub: &str, out: &Output) -> Error {
    Error::Command {
        program: format!("tmux {sub}"),
        message: crate::git::short_message(&out.stderr, &out.stdout, out.status),
    }
}

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// `=NAME`: exactly the session NAME.
fn session_target(name: &str) -> String {
    format!("={name}")
}

/// `=NAME:`: the active pane of the current window of exactly session NAME.
fn pane_target(name: &str) -> String {
    format!("={name}:")
}

impl Tmux for TmuxCli {
    fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        validate_session_name(name)?;
        let cwd = checked_launch(cwd, env, argv)?;
        let cwd = cwd.as_str();

        let target = pane_target(name);
        let mut args: Vec<String> = [
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            WIDTH,
            "-y",
            HEIGHT,
            "-c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(escape_arg(&cwd.replace('#', "##")));
        for (k, v) in env {
            args.push("-e".into());
            args.push(escape_arg(&format!("{k}={v}")));
        }
        // Two or more arguments: tmux execs them, no shell in between.
        args.extend(["--".into(), "env".into(), "--".into()]);
        args.extend(argv.iter().map(|a| escape_arg(a)));
        // Same command line, so it runs before tmux can notice a command that
        // exits at once: the pane stays and keeps its exit status.
        args.extend(
            [
                ";",
                "set-option",
                "-w",
                "-t",
                &target,
                "remain-on-exit",
                "on",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let args: Vec<&OsStr> = args.iter().map(os).collect();
        // A server that is shutting down (its last session just ended)
        // accepts the connection and then vanishes; a new server is started
        // on the next try. Nothing was created, so trying again is safe.
        let mut attempt = 0;
        let out = loop {
            let out = self.exec(&args)?;
            attempt += 1;
            if out.status.success() || !out.server_vanished() || attempt == 5 {
                break out;
            }
            std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
        };
        if out.status.success() {
            Ok(())
        } else if out.stderr.contains("duplicate session") {
            Err(Error::refused(format!(
                "tmux session {name} already exists"
            )))
        } else {
            Err(command_error("new-session", &out))
        }
    }

    fn has_session(&self, name: &str) -> Result<bool> {
        self.on_session("has-session", name)
    }

    fn kill_session(&self, name: &str) -> Result<bool> {
        let killed = self.on_session("kill-session", name)?;
        if killed {
            self.forget_server_if_empty();
        }
        Ok(killed)
    }

    fn kill_session_later(&self, name: &str, delay_secs: u32) -> Result<()> {
        validate_session_name(name)?;
        // Target the session by its unique id (`$N`), never reused by the
        // server: a new session that takes the same name within the delay (an
        // idle polecat given new work) must not be killed.
        let out = self.exec(&[
            os("display-message"),
            os("-p"),
            os("-t"),
            os(&format!("{}:", session_target(name))),
            os("#{session_id}"),
        ])?;
        if !out.status.success() {
            // Already gone: nothing to kill later.
            return if out.is_missing() {
                Ok(())
            } else {
                Err(command_error("display-message", &out))
            };
        }
        let id = out.stdout.trim().to_string();
        if id.is_empty() {
            return Ok(());
        }
        if !(id.starts_with('$') && id.len() > 1 && id[1..].chars().all(|c| c.is_ascii_digit())) {
            return Err(Error::Command {
                program: "tmux".into(),
                message: format!("unexpected session id '{id}'"),
            });
        }
        // `-C`: the delayed command is a tmux command, no shell involved.
        // `-b`: do not wait.
        let command = format!("kill-session -t {id}");
        let delay = delay_secs.to_string();
        let args = [
            os("run-shell"),
            os("-b"),
            os("-d"),
            os(&delay),
            os("-C"),
            os(&command),
        ];
        self.run_on(name, "run-shell", &args).map(drop)
    }

    fn list_sessions(&self) -> Result<Vec<SessionInfo>> {
        let format = [
            "#{session_name}",
            "#{session_created}",
            "#{session_attached}",
            "#{pane_pid}",
            "#{pane_dead}",
            "#{pane_dead_status}",
            "#{pane_dead_signal}",
            "#{window_activity}",
            "#{pane_current_command}",
        ]
        .join(&SEP.to_string());
        let query = || -> Result<Vec<SessionInfo>> {
            let out = self.exec(&[os("list-sessions"), os("-F"), os(&format)])?;
            if !out.status.success() {
                return if out.is_missing() {
                    // No server: a socket file it left behind goes.
                    self.remove_stale_socket();
                    Ok(Vec::new())
                } else {
                    Err(command_error("list-sessions", &out))
                };
            }
            let mut sessions: Vec<SessionInfo> =
                out.stdout.lines().filter_map(parse_session).collect();
            sessions.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(sessions)
        };
        let sessions = query()?;
        let unreaped = sessions
            .iter()
            .any(|s| s.pane_dead && s.dead_status.is_none() && s.dead_signal.is_none());
        if !unreaped {
            return Ok(sessions);
        }
        // A dead pane whose exit is not known yet. Usually tmux learns it a
        // moment later, but tmux 3.3a sometimes misses the SIGCHLD of a
        // pane's process altogether (seen under load: the process stays a
        // zombie) until another child of the server exits. Make one exit: a
        // background job (-b, so this never waits on tmux), then look again.
        let _ = self.exec(&[os("run-shell"), os("-b"), os("true")]);
        std::thread::sleep(std::time::Duration::from_millis(50));
        query()
    }

    fn capture_pane(&self, name: &str, lines: usize) -> Result<String> {
        validate_session_name(name)?;
        if lines == 0 {
            return Ok(String::new());
        }
        let t = pane_target(name);
        let start = format!("-{lines}");
        let args = [
            os("capture-pane"),
            os("-p"),
            os("-J"),
            os("-t"),
            os(&t),
            os("-S"),
            os(&start),
        ];
        let out = self.run_on(name, "capture-pane", &args)?;
        let mut rows: Vec<&str> = out.lines().map(str::trim_end).collect();
        while rows.last().is_some_and(|l| l.is_empty()) {
            rows.pop();
        }
        let from = rows.len().saturating_sub(lines);
        Ok(rows[from..].join("\n"))
    }

    fn send_literal(&self, name: &str, text: &str) -> Result<()> {
        validate_session_name(name)?;
        if text.contains('\0') {
            return Err(Error::invalid("text must not contain NUL"));
        }
        let t = pane_target(name);
        let chunks = split_chunks(text, CHUNK);
        for batch in chunks.chunks(CHUNKS_PER_CALL) {
            let mut args: Vec<String> = Vec::new();
            for chunk in batch {
                if !args.is_empty() {
                    args.push(";".into());
                }
                args.extend(["send-keys", "-t", &t, "-l", "--"].map(String::from));
                args.push(escape_arg(chunk));
            }
            let args: Vec<&OsStr> = args.iter().map(os).collect();
            self.run_on(name, "send-keys", &args)?;
        }
        Ok(())
    }

    fn send_enter(&self, name: &str) -> Result<()> {
        validate_session_name(name)?;
        let t = pane_target(name);
        self.run_on(
            name,
            "send-keys",
            &[os("send-keys"), os("-t"), os(&t), os("Enter")],
        )
        .map(drop)
    }

    fn respawn_pane(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<()> {
        validate_session_name(name)?;
        let cwd = checked_launch(cwd, env, argv)?;
        let cwd = cwd.as_str();
        let target = pane_target(name);
        let mut args: Vec<String> = ["respawn-pane", "-k", "-t", &target, "-c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(escape_arg(&cwd.replace('#', "##")));
        for (k, v) in env {
            let key_ok = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok || v.contains('\0') {
                return Err(Error::invalid(format!(
                    "invalid environment variable '{}'",
                    k.escape_debug()
                )));
            }
            args.push("-e".into());
            args.push(escape_arg(&format!("{k}={v}")));
        }
        args.extend(["--".into(), "env".into(), "--".into()]);
        args.extend(argv.iter().map(|a| escape_arg(a)));
        let mut cmd = Command::new(&self.program);
        cmd.env_remove("TMUX").env_remove("TMUX_PANE");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg("-L").arg(&self.socket).arg("-f").arg("/dev/null");
        cmd.args(&args).stdin(Stdio::null());
        // Its own process group: the SIGHUP tmux sends to the pane's
        // processes (maybe our caller) must not stop this client.
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let out = cmd
            .output()
            .map_err(|e| Error::io(format!("cannot run {}", self.program.display()), e))?;
        let out = Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if out.status.success() {
            Ok(())
        } else if out.is_missing() {
            Err(Error::not_found("tmux session", name))
        } else {
            Err(command_error("respawn-pane", &out))
        }
    }

    fn attach_command(&self, name: &str) -> Result<Vec<String>> {
        validate_session_name(name)?;
        Ok(vec![
            self.program.to_string_lossy().into_owned(),
            "-L".into(),
            self.socket.clone(),
            "-f".into(),
            "/dev/null".into(),
            "attach-session".into(),
            "-t".into(),
            session_target(name),
        ])
    }

    fn kill_server(&self) -> Result<()> {
        // tmux leaves its socket file behind: ask where it is first, and
        // remove it once the server is gone.
        let socket_path = self
            .exec(&[os("display-message"), os("-p"), os("#{socket_path}")])
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(o.stdout.trim()));
        let out = self.exec(&[os("kill-server")])?;
        if out.status.success() || out.is_missing() {
            if let Some(p) = socket_path.filter(|p| p.is_absolute()) {
                let _ = std::fs::remove_file(p);
            }
            Ok(())
        } else {
            Err(command_error("kill-server", &out))
        }
    }
}

fn parse_session(line: &str) -> Option<SessionInfo> {
    let mut f = line.splitn(9, SEP);
    let name = f.next()?.to_string();
    let created = f.next()?.parse().unwrap_or(0);
    let attached = f.next()?.parse::<u32>().unwrap_or(0) > 0;
    let pane_pid = f.next()?.parse().ok();
    let pane_dead = f.next()? == "1";
    let dead_status = f.next()?.parse().ok().filter(|_| pane_dead);
    let dead_signal = f.next()?.parse().ok().filter(|_| pane_dead);
    let activity = f.next()?.parse().unwrap_or(0);
    let current_command = f.next().unwrap_or("").to_string();
    Some(SessionInfo {
        name,
        created,
        attached,
        pane_pid,
        pane_dead,
        dead_status,
        dead_signal,
        activity,
        current_command,
    })
}

/// Splits `text` into pieces of at most `max` bytes, on char boundaries.
fn split_chunks(text: &str, max: usize) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // A char wider than `max` (cannot happen for max >= 4).
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (head, tail) = rest.split_at(end);
        chunks.push(head);
        rest = tail;
    }
    chunks
}

/// Helpers for tests of this and other modules.
#[cfg(test)]
pub(crate) mod test_support {
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
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tmux_socket_file_goes_with_the_last_session_only() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        let cwd = srv.dir.path();
        let sock = t.socket_path().unwrap();
        assert!(sock.starts_with(srv.dir.path()), "{}", sock.display());
        t.new_session("a", cwd, &[], &argv(&["sleep", "30"]))
            .unwrap();
        t.new_session("b", cwd, &[], &argv(&["sleep", "30"]))
            .unwrap();
        assert!(sock.exists());
        // A server still listening keeps its socket.
        assert!(!t.remove_stale_socket());
        assert!(t.kill_session("a").unwrap());
        assert!(sock.exists(), "removed while session b runs");
        assert!(t.kill_session("b").unwrap());
        assert!(
            !sock.exists(),
            "{} left after the last session",
            sock.display()
        );
        let mut lock = sock.clone().into_os_string();
        lock.push(".lock");
        assert!(!std::path::Path::new(&lock).exists());
        // A new server on the same socket works as before.
        t.new_session("c", cwd, &[], &argv(&["sleep", "30"]))
            .unwrap();
        assert!(t.has_session("c").unwrap());
        assert!(sock.exists());
    }

    #[test]
    fn tmux_session_runs_a_command_and_capture_sees_it() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        let cwd = srv.dir.path();
        assert!(!t.has_session("s1").unwrap());
        assert!(t.list_sessions().unwrap().is_empty());
        t.new_session(
            "s1",
            cwd,
            &[],
            &argv(&["sh", "-c", "echo ready; pwd; sleep 30"]),
        )
        .unwrap();
        wait_until("ready", || {
            t.capture_pane("s1", 50).unwrap().contains("ready")
        });
        let screen = t.capture_pane("s1", 50).unwrap();
        let pwd = cwd.canonicalize().unwrap();
        assert!(
            screen.contains(pwd.to_str().unwrap()),
            "cwd not in {screen:?}"
        );
        assert!(t.has_session("s1").unwrap());
        let info = t.session_info("s1").unwrap().unwrap();
        assert!(!info.pane_dead);
        assert_eq!(info.dead_status, None);
        assert!(info.pane_pid.is_some());
        assert!(!info.attached);
        assert!(info.created > 0);
        assert!(matches!(
            t.new_session("s1", cwd, &[], &argv(&["sleep", "30"])),
            Err(Error::Refused(_))
        ));
        assert!(t.kill_session("s1").unwrap());
        assert!(!t.kill_session("s1").unwrap());
        assert!(!t.has_session("s1").unwrap());
    }

    #[test]
    fn tmux_capture_returns_the_last_lines() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        let script = "i=1; while [ $i -le 120 ]; do echo line$i; i=$((i+1)); done; sleep 30";
        t.new_session("cap", srv.dir.path(), &[], &argv(&["sh", "-c", script]))
            .unwrap();
        wait_until("line120", || {
            t.capture_pane("cap", 3).unwrap().contains("line120")
        });
        assert_eq!(
            t.capture_pane("cap", 3).unwrap(),
            "line118\nline119\nline120"
        );
        // History is included beyond the 50 visible rows.
        let all = t.capture_pane("cap", 100).unwrap();
        assert_eq!(all.lines().count(), 100);
        assert!(all.starts_with("line21\n"), "{all:?}");
        assert_eq!(t.capture_pane("cap", 0).unwrap(), "");
    }

    #[test]
    fn tmux_env_vars_and_hostile_args_arrive_verbatim() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        let dir = srv.dir.path();
        let pwned = dir.join("pwned");
        let p = pwned.to_str().unwrap();
        let env = vec![
            ("FOO".to_string(), "bar baz;".to_string()),
            ("HOSTILE".to_string(), format!("$(touch {p}) #{{pane_id}}")),
        ];
        let hostile = [
            format!("$(touch {p})"),
            format!("; touch {p}"),
            format!("`touch {p}`;"),
            "#{pane_id}".to_string(),
            "semi;".to_string(),
            "back\\;".to_string(),
            ";".to_string(),
            String::new(),
        ];
        let mut args = argv(&[
            "sh",
            "-c",
            "printenv FOO; printenv HOSTILE; printf '[%s]' \"$@\"; echo; echo done; sleep 30",
            "sh",
        ]);
        args.extend(hostile.iter().cloned());
        t.new_session("env", dir, &env, &args).unwrap();
        wait_until("done", || {
            t.capture_pane("env", 50).unwrap().contains("done")
        });
        let screen = t.capture_pane("env", 50).unwrap();
        let lines: Vec<&str> = screen.lines().collect();
        assert_eq!(lines[0], "bar baz;");
        assert_eq!(lines[1], format!("$(touch {p}) #{{pane_id}}"));
        let expected: String = hostile.iter().map(|a| format!("[{a}]")).collect();
        assert_eq!(lines[2], expected);

        // A single argument is not handed to a shell either: it is a
        // program name, which does not exist.
        t.new_session("one", dir, &[], &[format!("$(touch {p}); true")])
            .unwrap();
        wait_until("exit status", || {
            t.pane_dead_status("one").unwrap().is_some()
        });
        assert!(t.pane_dead("one").unwrap());
        assert_eq!(t.pane_dead_status("one").unwrap(), Some(127));
        // A directory name with a format and a trailing ';'.
        let odd = dir.join("d#{session_name};");
        std::fs::create_dir(&odd).unwrap();
        t.new_session("odd", &odd, &[], &argv(&["sh", "-c", "pwd; sleep 30"]))
            .unwrap();
        let odd_real = odd.canonicalize().unwrap();
        wait_until("pwd", || {
            t.capture_pane("odd", 5)
                .unwrap()
                .contains(odd_real.to_str().unwrap())
        });
        assert!(!pwned.exists(), "a shell ran hostile text");

        for bad in [&[][..], &["A=b".to_string(), "x".to_string()][..]] {
            assert!(matches!(
                t.new_session("bad", dir, &[], bad),
                Err(Error::Invalid(_))
            ));
        }
        assert!(matches!(
            t.new_session("bad", &dir.join("missing"), &[], &argv(&["true", "x"])),
            Err(Error::NotFound { .. })
        ));
        assert!(!t.has_session("bad").unwrap());
    }

    #[test]
    fn tmux_send_literal_types_text_verbatim() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        let out = srv.dir.path().join("out.txt");
        let pwned = srv.dir.path().join("pwned");
        let p = pwned.to_str().unwrap();
        // Non-canonical mode: no 4 KiB line limit of the terminal; Enter's
        // '\r' still becomes '\n'.
        let script = format!(
            "stty -icanon -echo; echo ready; exec cat > '{}'",
            out.display()
        );
        t.new_session("cat", srv.dir.path(), &[], &argv(&["sh", "-c", &script]))
            .unwrap();
        wait_until("ready", || {
            t.capture_pane("cat", 5).unwrap().contains("ready")
        });

        let long: String = (0..4096)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut long_utf8 = "é".repeat(700);
        long_utf8.push_str(";;");
        let texts = vec![
            "C-c".to_string(),
            "Enter".to_string(),
            "#{pane_id}".to_string(),
            format!("$(touch {p})"),
            format!("; touch {p}"),
            "ends with;".to_string(),
            "ends with backslash semi\\;".to_string(),
            ";".to_string(),
            "'single' \"double\" \\back\\slash\\".to_string(),
            "-- --help".to_string(),
            "-l".to_string(),
            "héllo ✓ 日本語 🚀".to_string(),
            long,
            long_utf8,
        ];
        let mut expected = String::new();
        for text in &texts {
            t.send_literal("cat", text).unwrap();
            t.send_enter("cat").unwrap();
            expected.push_str(text);
            expected.push('\n');
        }
        wait_until("all text in the file", || {
            std::fs::read_to_string(&out).unwrap_or_default().len() >= expected.len()
        });
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, expected);
        assert!(!pwned.exists());
        t.send_literal("cat", "").unwrap();
        assert!(matches!(
            t.send_literal("nope", "x"),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            t.send_literal("cat", "a\0b"),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn tmux_dead_pane_keeps_its_exit_status() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        t.new_session("dies", srv.dir.path(), &[], &argv(&["sh", "-c", "exit 3"]))
            .unwrap();
        wait_until("exit status", || {
            t.pane_dead_status("dies").unwrap().is_some()
        });
        assert!(t.pane_dead("dies").unwrap());
        assert_eq!(t.pane_dead_status("dies").unwrap(), Some(3));
        assert!(t.pane_pid("dies").unwrap().is_some());
        let list = t.list_sessions().unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].pane_dead);
        assert_eq!(list[0].dead_status, Some(3));
        assert_eq!(list[0].dead_signal, None);

        // Killed by a signal: a signal, no exit status.
        // (Killed only once it runs: tmux 3.3a may not reap a pane process
        // that dies before its exec, until another child exits.)
        t.new_session("killed", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        wait_until("sleep running", || {
            t.session_info("killed")
                .unwrap()
                .is_some_and(|s| s.current_command == "sleep")
        });
        let pid = t.pane_pid("killed").unwrap().unwrap();
        let st = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        wait_until("signal", || {
            t.session_info("killed")
                .unwrap()
                .is_some_and(|s| s.dead_signal.is_some())
        });
        let info = t.session_info("killed").unwrap().unwrap();
        assert!(info.pane_dead);
        assert_eq!((info.dead_status, info.dead_signal), (None, Some(9)));
        // Still capturable.
        t.capture_pane("dies", 10).unwrap();
        assert!(matches!(t.pane_dead("nope"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn tmux_session_names_match_exactly() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        t.new_session("gt-ab", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        assert!(t.has_session("gt-ab").unwrap());
        assert!(!t.has_session("gt-a").unwrap());
        assert!(!t.kill_session("gt-a").unwrap());
        assert!(matches!(
            t.capture_pane("gt-a", 5),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            t.send_literal("gt-a", "x"),
            Err(Error::NotFound { .. })
        ));
        assert!(t.has_session("gt-ab").unwrap());
        let names: Vec<String> = t
            .list_sessions()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["gt-ab".to_string()]);
        assert_eq!(
            t.attach_command("gt-ab").unwrap()[1..],
            argv(&[
                "-L",
                t.socket(),
                "-f",
                "/dev/null",
                "attach-session",
                "-t",
                "=gt-ab"
            ])[..]
        );
        t.kill_server().unwrap();
        assert!(!t.has_session("gt-ab").unwrap());
        t.kill_server().unwrap();
    }

    #[test]
    fn tmux_kill_session_later_returns_at_once() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        t.new_session("keep", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        t.new_session("doomed", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        let start = std::time::Instant::now();
        t.kill_session_later("doomed", 1).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_millis(900));
        assert!(t.has_session("doomed").unwrap());
        wait_until("session killed", || !t.has_session("doomed").unwrap());
        assert!(start.elapsed() >= std::time::Duration::from_millis(900));
        assert!(t.has_session("keep").unwrap());
        // A session that is already gone by then: no error later, no harm.
        t.kill_session_later("gone", 0).unwrap();
    }

    #[test]
    fn tmux_kill_session_later_spares_a_new_session_of_the_same_name() {
        let srv = TestServer::new();
        let t = &srv.tmux;
        t.new_session("keep", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        t.new_session("pc", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        t.kill_session_later("pc", 1).unwrap();
        // The name is reused at once (an idle polecat given new work).
        assert!(t.kill_session("pc").unwrap());
        t.new_session("pc", srv.dir.path(), &[], &argv(&["sleep", "30"]))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1600));
        assert!(t.has_session("pc").unwrap(), "the new session was killed");
    }

    #[test]
    fn tmux_new_session_right_after_the_last_one_ended() {
        // Killing the last session makes the server exit; a new session
        // asked for at that moment must still start.
        let srv = TestServer::new();
        let t = &srv.tmux;
        for i in 0..20 {
            let name = format!("s{i}");
            t.new_session(&name, srv.dir.path(), &[], &argv(&["sleep", "30"]))
                .unwrap();
            assert!(t.kill_session(&name).unwrap());
        }
        assert!(t.list_sessions().unwrap().is_empty() || t.kill_server().is_ok());
    }

    #[test]
    fn tmux_names_and_sockets() {
        for ok in ["gt-rig-toast", "a", "A_1"] {
            validate_session_name(ok).unwrap();
        }
        for bad in [
            "", "a.b", "a:b", "a b", "a\tb", "a\nb", "a;", "#a", "=a", "-a", "%1", "$1", "@1", "é",
        ] {
            assert!(validate_session_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TmuxCli::new("").is_err());
        assert!(TmuxCli::new("a/b").is_err());

        let dir = tempfile::tempdir().unwrap();
        let s = socket_name_for(dir.path());
        assert_eq!(s.len(), 11);
        assert!(s.starts_with("gt-"));
        assert!(s[3..].chars().all(|c| c.is_ascii_hexdigit()));
        // Stable, and the same for another spelling of the same directory.
        assert_eq!(s, socket_name_for(&dir.path().join(".")));
        assert_ne!(s, socket_name_for(&dir.path().join("other")));
        assert_eq!(TmuxCli::for_town(dir.path()).socket(), s);

        assert_eq!(escape_arg("a;"), "a\\;");
        assert_eq!(escape_arg("a\\;"), "a\\\\;");
        assert_eq!(escape_arg(";"), "\\;");
        assert_eq!(escape_arg("a;b"), "a;b");
        let text = "é".repeat(600);
        let chunks = split_chunks(&text, 1023);
        assert!(chunks.iter().all(|c| c.len() <= 1023));
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn tmux_missing_program_is_an_environment_error() {
        let t = TmuxCli::new("gt-test-none")
            .unwrap()
            .with_program("/nonexistent/tmux");
        match t.has_session("x") {
            Err(Error::Environment(m)) => assert!(m.starts_with("tmux is not installed"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
