//! [`TmuxCli`]: the `tmux` program on a private server (`-L <socket>`),
//! each argument passed separately.

use super::*;

/// Checks what a new or respawned pane is to run — a program name env can
/// exec, no NUL anywhere, plain environment variable names — and returns its
/// working directory, absolute, existing and UTF-8.
pub(super) fn checked_launch(
    cwd: &Path,
    env: &[(String, String)],
    argv: &[String],
) -> Result<String> {
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

/// The part of a `new-session` / `respawn-pane` command line that says what
/// runs where: `-c DIR`, one `-e K=V` per variable, then `-- env -- ARGV`
/// (two or more arguments: tmux execs them, no shell in between). Checked
/// by [`checked_launch`] first.
fn launch_args(cwd: &Path, env: &[(String, String)], argv: &[String]) -> Result<Vec<String>> {
    let cwd = checked_launch(cwd, env, argv)?;
    let mut args = vec!["-c".to_string(), escape_arg(&cwd.replace('#', "##"))];
    for (k, v) in env {
        args.push("-e".into());
        args.push(escape_arg(&format!("{k}={v}")));
    }
    args.extend(["--".into(), "env".into(), "--".into()]);
    args.extend(argv.iter().map(|a| escape_arg(a)));
    Ok(args)
}

/// [`Tmux`] through the `tmux` command line, on a private server.
#[derive(Debug, Clone)]
pub struct TmuxCli {
    socket: String,
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
}

/// What a finished tmux command left behind.
pub(super) struct Output {
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
        base_env(&mut cmd);
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
    pub(super) fn socket_path(&self) -> Option<PathBuf> {
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
    pub(super) fn remove_stale_socket(&self) -> bool {
        let Some(path) = self.socket_path() else {
            return false;
        };
        // Refused, and no socket of this machine is bound to the path: a
        // connect is also refused by a live server whose listen queue is
        // full (a loaded machine), and that socket must never go.
        let stale = |p: &Path| {
            matches!(
                std::os::unix::net::UnixStream::connect(p),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            ) && !socket_is_bound(p)
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

pub(super) fn command_error(sub: &str, out: &Output) -> Error {
    Error::Command {
        program: format!("tmux {sub}"),
        message: crate::git::short_message(&out.stderr, &out.stdout, out.status),
    }
}

pub(super) fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

impl TmuxCli {
    /// `capture-pane -p -J` of the last `lines` lines (`-e`: with escapes).
    fn capture(&self, name: &str, lines: usize, styled: bool) -> Result<String> {
        validate_session_name(name)?;
        if lines == 0 {
            return Ok(String::new());
        }
        let t = pane_target(name);
        let start = format!("-{lines}");
        let mut args = vec![os("capture-pane"), os("-p"), os("-J")];
        if styled {
            args.push(os("-e"));
        }
        args.extend([os("-t"), os(&t), os("-S"), os(&start)]);
        let out = self.run_on(name, "capture-pane", &args)?;
        let mut rows: Vec<&str> = out.lines().map(str::trim_end).collect();
        while rows.last().is_some_and(|l| l.is_empty()) {
            rows.pop();
        }
        let from = rows.len().saturating_sub(lines);
        Ok(rows[from..].join("\n"))
    }
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
        let launch = launch_args(cwd, env, argv)?;
        let target = pane_target(name);
        let mut args: Vec<String> = ["new-session", "-d", "-s", name, "-x", WIDTH, "-y", HEIGHT]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(launch);
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
        validate_session_name(name)?;
        // Noted before the kill: afterwards the parent links are gone.
        let procs = self.pane_tree(name, tree::Spare::Ancestors);
        let killed = self.on_session("kill-session", name)?;
        tree::end(&procs, tree::GRACE);
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
        // The pane's processes as of now (gt, which has exited by then,
        // excepted): ended by the server right after the kill.
        let procs = self.pane_tree(name, tree::Spare::SelfOnly);
        // `-C`: the delayed command is a tmux command, no shell involved.
        // `-b`: do not wait.
        let command = format!("kill-session -t {id}");
        let delay = delay_secs.to_string();
        let mut args = vec![
            os("run-shell"),
            os("-b"),
            os("-d"),
            os(&delay),
            os("-C"),
            os(&command),
        ];
        // And a script (pids and start times only, no caller text), started
        // now, that signals the processes still there a moment after the
        // kill; the server runs it with its `default-shell`, so it starts a
        // POSIX shell itself.
        let after = std::time::Duration::from_secs(delay_secs.into())
            + std::time::Duration::from_millis(200);
        let script = (!procs.is_empty()).then(|| {
            format!(
                "exec /bin/sh -c '{}'",
                tree::end_script(&procs, after, tree::GRACE)
            )
        });
        if let Some(script) = &script {
            args.extend([os(";"), os("run-shell"), os("-b"), os(script.as_str())]);
        }
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
        self.capture(name, lines, false)
    }

    fn capture_pane_styled(&self, name: &str, lines: usize) -> Result<String> {
        self.capture(name, lines, true)
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
        let target = pane_target(name);
        let mut args: Vec<String> = ["respawn-pane", "-k", "-t", &target]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(launch_args(cwd, env, argv)?);
        let mut cmd = Command::new(&self.program);
        base_env(&mut cmd);
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
        let procs: Vec<tree::Proc> = self
            .list_sessions()
            .unwrap_or_default()
            .iter()
            .filter_map(|s| Some((s.pane_pid?, !s.pane_dead)))
            .flat_map(|(pid, alive)| tree::collect(pid, alive, tree::Spare::Ancestors))
            .collect();
        let result = self.kill_server_only();
        tree::end(&procs, tree::GRACE);
        result
    }
}

impl TmuxCli {
    /// `kill-server`, then the socket file it leaves behind.
    fn kill_server_only(&self) -> Result<()> {
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

    /// The processes of session `name`'s pane (see the `tree` module);
    /// empty when the session or its pane pid is unknown.
    fn pane_tree(&self, name: &str, spare: tree::Spare) -> Vec<tree::Proc> {
        match self.session_info(name) {
            Ok(Some(SessionInfo {
                pane_pid: Some(pid),
                pane_dead,
                ..
            })) => tree::collect(pid, !pane_dead, spare),
            _ => Vec::new(),
        }
    }
}

pub(super) fn parse_session(line: &str) -> Option<SessionInfo> {
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
pub(super) fn split_chunks(text: &str, max: usize) -> Vec<&str> {
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

/// Whether a Unix socket of this machine is bound to `path` (a server
/// listens there, or is about to): `/proc/net/unix` lists every bound
/// socket with its path. Where it cannot be read, the answer is yes, so
/// nothing is removed on a guess.
fn socket_is_bound(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return true;
    };
    let want = path.to_string_lossy();
    table
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(7) == Some(want.as_ref()))
}

/// The variables a tmux command (and so a server it starts, whose global
/// environment every pane inherits) gets from this process: the basics of
/// the user's session only. Whatever else an agent needs is passed per
/// session (`new-session -e`), so one caller's tokens never reach the
/// sessions another caller starts on the same server.
fn base_env(cmd: &mut Command) {
    const KEEP: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "TERM",
        "TMPDIR",
        "TMUX_TMPDIR",
        "TZ",
    ];
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        let keep = k
            .to_str()
            .is_some_and(|k| KEEP.contains(&k) || k.starts_with("LC_"));
        if keep {
            cmd.env(k, v);
        }
    }
}

#[cfg(test)]
mod bound_tests {
    #[test]
    fn a_listening_socket_is_bound_and_a_closed_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(super::socket_is_bound(&path));
        drop(l);
        assert!(path.exists(), "the file stays after its server is gone");
        assert!(!super::socket_is_bound(&path));
    }
}
