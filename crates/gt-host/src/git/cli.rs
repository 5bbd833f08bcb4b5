//! [`GitCli`]: the `git` program run with a scrubbed environment and pinned
//! configuration, one argument at a time, in its own process group.

mod ops;

use super::*;

/// Variables that would make git ignore `-C` and act on another repository
/// (they are set when gt runs inside a git hook).
pub(super) const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// Settings pinned on every git command gt runs (`-c`, which wins over
/// every config file): the rig repository's config is shared by all its
/// worktrees, so an agent can write to it; nothing it writes there may run
/// code inside gt's git processes. See `docs/refinery.md` ("Hostile
/// repositories") for the full list and why.
pub const PINNED_CONFIG: &[&str] = &[
    // Hooks: a path below /dev/null can hold no file, so no hook is ever
    // found (unlike a directory, which an agent of the same user could fill).
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    // Transports: file, git, http(s) and ssh only; never `ext::` (runs a
    // command) or `fd::`, whatever the repository config allows.
    "protocol.allow=never",
    "protocol.file.allow=always",
    "protocol.git.allow=always",
    "protocol.http.allow=always",
    "protocol.https.allow=always",
    "protocol.ssh.allow=always",
    "protocol.ext.allow=never",
    "protocol.fd.allow=never",
    // The programs run on the other side of a local or ssh remote.
    "remote.origin.uploadpack=git-upload-pack",
    "remote.origin.receivepack=git-receive-pack",
    // Signing runs `gpg.program`: gt's own commits are not signed.
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "merge.verifySignatures=false",
    "log.showSignature=false",
    // Submodules would run their own configuration.
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "push.recurseSubmodules=no",
    // A worktree add must not write an extension into the (recorded) config.
    "worktree.useRelativePaths=false",
    // Replaced (not added to) by the user's own helpers, see `trusted`.
    "credential.helper=",
];

/// The git subcommands that may talk to a remote (and so may need the
/// user's ssh command or credential helpers).
const NETWORK_SUBCOMMANDS: &[&str] = &[
    "clone",
    "fetch",
    "push",
    "pull",
    "ls-remote",
    "remote",
    "credential",
    "submodule",
];

/// Environment pinned on every git command unless gt's own environment sets
/// it: it overrides the config keys of the same meaning (`core.editor`,
/// `sequence.editor`, `core.pager`, `core.askPass`, `core.gitProxy`).
pub(super) const PINNED_ENV: &[(&str, &str)] = &[
    ("GIT_EDITOR", ":"),
    ("GIT_SEQUENCE_EDITOR", ":"),
    ("GIT_PAGER", "cat"),
    ("GIT_ASKPASS", ""),
    ("GIT_PROXY_COMMAND", ""),
];

/// The user's own settings (global and system config, never a
/// repository's) for the keys gt resets: `core.sshCommand` and the
/// credential helpers. Looked up once per [`GitCli`].
pub(super) fn lookup_trusted(program: &Path, env: &[(OsString, Option<OsString>)]) -> Vec<String> {
    let mut out = Vec::new();
    for scope in ["--system", "--global"] {
        let mut cmd = Command::new(program);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Run where no repository can be found, so only `scope` is read.
        cmd.current_dir("/")
            .env("GIT_CEILING_DIRECTORIES", "/")
            .args(["config", scope, "--includes", "--list", "-z"])
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        let Ok(o) = cmd.output() else { continue };
        if !o.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&o.stdout);
        for entry in text.split('\0').filter(|e| !e.is_empty()) {
            let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
            let lower = key.to_ascii_lowercase();
            let keep = lower == "core.sshcommand"
                || (lower.starts_with("credential.") && lower.ends_with(".helper"));
            if keep && !value.contains('\n') {
                out.push(format!("{key}={value}"));
            }
        }
    }
    out
}

/// [`Git`] through the `git` command line.
#[derive(Debug, Clone)]
pub struct GitCli {
    program: PathBuf,
    /// Extra environment: `Some` sets, `None` removes.
    env: Vec<(OsString, Option<OsString>)>,
    fallback_name: String,
    fallback_email: String,
    /// See [`Git::identity_cache`] (shared by clones).
    identity: Arc<Mutex<IdentityCache>>,
    /// See [`lookup_trusted`] (shared by clones, looked up on first use).
    trusted: Arc<std::sync::OnceLock<Vec<String>>>,
    /// The town whose worktrees are checked by [`GitCli::confine`].
    town: Option<PathBuf>,
}

impl Default for GitCli {
    fn default() -> Self {
        Self::new()
    }
}

/// What a finished git command left behind.
pub(super) struct Output {
    pub(super) status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl GitCli {
    /// `git` from `PATH`, the process environment, the default fallback identity.
    pub fn new() -> Self {
        GitCli {
            program: PathBuf::from("git"),
            env: Vec::new(),
            fallback_name: "Gas Town".to_string(),
            fallback_email: "gt@gastown.invalid".to_string(),
            identity: Arc::default(),
            trusted: Arc::default(),
            town: None,
        }
    }

    /// Confines git in the worktrees of the town at `root` (see
    /// [`GitCli::confine`]).
    pub fn for_town(mut self, root: &Path) -> Self {
        self.town = Some(root.canonicalize().unwrap_or_else(|_| root.to_path_buf()));
        self
    }

    /// A worktree of the town (`<town>/<rig>/…`) must be a worktree of its
    /// own rig repository: its `.git` file must lead into
    /// `<town>/<rig>/.repo.git/worktrees/`, and that folder's `commondir`
    /// back to `<town>/<rig>/.repo.git`. An agent can rewrite both (they are
    /// in its reach); pointed elsewhere, they would make gt's git read a
    /// config (filters, drivers, includes) the agent wrote. Refused then.
    fn confine(&self, dir: &Path) -> Result<()> {
        let Some(town) = &self.town else {
            return Ok(());
        };
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let Ok(rel) = dir.strip_prefix(town) else {
            return Ok(());
        };
        let Some(rig) = rel.components().next() else {
            return Ok(());
        };
        let rig_dir = town.join(rig);
        let repo = rig_dir.join(gt_core::layout::REPO_DIR);
        let refuse = |why: &str| {
            Err(Error::refused(format!(
                "{}: {why}; gt runs no git there",
                dir.display()
            )))
        };
        for at in dir.ancestors().take_while(|a| a.starts_with(&rig_dir)) {
            if at == repo || at == rig_dir {
                return Ok(());
            }
            let dotgit = at.join(".git");
            let Ok(meta) = dotgit.symlink_metadata() else {
                continue;
            };
            if !meta.is_file() {
                return refuse(".git is not a file leading into the rig repository");
            }
            let (Some(gitdir), Ok(repo)) = (worktree_git_dir(at), repo.canonicalize()) else {
                return refuse(".git does not lead to a worktree of the rig repository");
            };
            let gitdir = gitdir.canonicalize().unwrap_or(gitdir);
            if !gitdir.starts_with(repo.join("worktrees")) {
                return refuse(".git leads outside the rig repository");
            }
            let common = std::fs::read_to_string(gitdir.join("commondir"))
                .ok()
                .and_then(|c| {
                    gitdir
                        .join(c.trim_end_matches(['\n', '\r']))
                        .canonicalize()
                        .ok()
                });
            if common.as_deref() != Some(repo.as_path()) {
                return refuse("its git metadata leads outside the rig repository");
            }
            // Inside the rig repository, but another worktree's metadata (an
            // agent pointing its `.git` at a neighbour's) is refused too.
            return check_own_worktree(at);
        }
        Ok(())
    }

    /// Uses another git executable.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        // What the identity depends on changed: a cache of its own.
        self.identity = Arc::default();
        self.trusted = Arc::default();
        self
    }

    /// Sets an environment variable for every git command.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        // What the identity depends on changed: a cache of its own.
        self.identity = Arc::default();
        self.trusted = Arc::default();
        self
    }

    /// Removes an environment variable for every git command.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        // What the identity depends on changed: a cache of its own.
        self.identity = Arc::default();
        self.trusted = Arc::default();
        self
    }

    /// The identity used for gt's commits when git has none configured.
    pub fn with_fallback_identity(mut self, name: &str, email: &str) -> Self {
        self.fallback_name = name.to_string();
        self.fallback_email = email.to_string();
        // What the identity depends on changed: a cache of its own.
        self.identity = Arc::default();
        self.trusted = Arc::default();
        self
    }

    /// The user's settings re-applied after [`PINNED_CONFIG`].
    pub(super) fn trusted(&self) -> &[String] {
        self.trusted
            .get_or_init(|| lookup_trusted(&self.program, &self.env))
    }

    /// The value of `key` in the environment git commands will see.
    fn effective_env(&self, key: &str) -> Option<OsString> {
        let mut value = std::env::var_os(key);
        for (k, v) in &self.env {
            if k == key {
                value = v.clone();
            }
        }
        value.filter(|v| !v.is_empty())
    }

    pub(super) fn command(&self, dir: Option<&Path>, config: &[String], sub: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        // Never wait for a password on a terminal nobody watches.
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Programs git would otherwise take from the (agent-writable)
        // repository config: the environment wins over any config file.
        // What the user set in gt's own environment is kept.
        for (k, v) in PINNED_ENV {
            if self.effective_env(k).is_none() {
                cmd.env(k, v);
            }
        }
        cmd.env("GIT_PROTOCOL_FROM_USER", "0");
        cmd.arg("--no-pager");
        if let Some(dir) = dir {
            cmd.arg("-C").arg(dir);
        }
        // Command-line settings come after every config file, so they win
        // over what an agent wrote into the repository config.
        for c in PINNED_CONFIG {
            cmd.arg("-c").arg(c);
        }
        // `core.sshCommand` beats `GIT_SSH` (but not `GIT_SSH_COMMAND`): pinned
        // to what gt's own environment asks for, else plain `ssh`.
        if self.effective_env("GIT_SSH_COMMAND").is_none() {
            let ssh = self
                .effective_env("GIT_SSH")
                .map(|p| shell_words::quote(&p.to_string_lossy()).into_owned())
                .unwrap_or_else(|| "ssh".into());
            cmd.arg("-c").arg(format!("core.sshCommand={ssh}"));
        }
        // Only commands that reach a remote need the user's own ssh command
        // and credential helpers; looking them up costs two git processes,
        // so local commands (every sling, patrol and merge) skip it.
        if NETWORK_SUBCOMMANDS.contains(&sub) {
            for c in self.trusted().iter() {
                cmd.arg("-c").arg(c);
            }
        }
        for c in config {
            cmd.arg("-c").arg(c);
        }
        cmd.arg(sub);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `git [-C dir] [-c config]... sub args...` to completion.
    pub(super) fn exec(
        &self,
        dir: Option<&Path>,
        config: &[String],
        sub: &str,
        args: &[&OsStr],
    ) -> Result<Output> {
        if let Some(d) = dir {
            self.confine(d)?;
        }
        let mut cmd = self.command(dir, config, sub);
        cmd.args(args);
        let out = cmd.output().map_err(|e| spawn_error(&self.program, e))?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs a git command that must succeed; returns its stdout.
    pub(super) fn run(&self, dir: &Path, sub: &str, args: &[&OsStr]) -> Result<String> {
        let out = self.exec(Some(dir), &[], sub, args)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(command_error(sub, &out))
        }
    }

    /// Runs a git command whose exit code 0/1 answers yes/no.
    fn run_yes_no(&self, dir: &Path, sub: &str, args: &[&OsStr]) -> Result<bool> {
        let out = self.exec(Some(dir), &[], sub, args)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(command_error(sub, &out)),
        }
    }

    /// `-c user.name=...`/`-c user.email=...` for what git lacks. Remembered
    /// per worktree while an [`Git::identity_cache`] guard lives.
    pub(super) fn identity_overrides(&self, wt: &Path) -> Result<Vec<String>> {
        {
            let c = self.identity.lock().unwrap_or_else(|e| e.into_inner());
            if c.users > 0 {
                if let Some((_, v)) = c.entries.iter().find(|(p, _)| p == wt) {
                    return Ok(v.clone());
                }
            }
        }
        let config = self.lookup_identity_overrides(wt)?;
        let mut c = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        if c.users > 0 && !c.entries.iter().any(|(p, _)| p == wt) {
            c.entries.push((wt.to_path_buf(), config.clone()));
        }
        Ok(config)
    }

    fn lookup_identity_overrides(&self, wt: &Path) -> Result<Vec<String>> {
        // One `git config` for both keys: which of them are set (to anything).
        let args = [os("--get-regexp"), os(r"^user\.(name|email)$")];
        let out = self.exec(Some(wt), &[], "config", &args)?;
        let set: Vec<&str> = match out.status.code() {
            Some(0) => out
                .stdout
                .lines()
                .map(|l| l.split_once(' ').map_or(l, |(k, _)| k))
                .collect(),
            Some(1) => Vec::new(),
            _ => return Err(command_error("config", &out)),
        };
        let mut config = Vec::new();
        let checks = [
            (
                "user.name",
                &["GIT_COMMITTER_NAME", "GIT_AUTHOR_NAME"][..],
                &self.fallback_name,
            ),
            (
                "user.email",
                &["GIT_COMMITTER_EMAIL", "GIT_AUTHOR_EMAIL", "EMAIL"][..],
                &self.fallback_email,
            ),
        ];
        for (key, vars, fallback) in checks {
            let configured = set.iter().any(|k| k.eq_ignore_ascii_case(key));
            let from_env = vars.iter().any(|v| self.effective_env(v).is_some());
            if !configured && !from_env {
                config.push(format!("{key}={fallback}"));
            }
        }
        Ok(config)
    }
}

impl GitCli {
    /// `git push origin SPEC` from `repo`, hooks off.
    pub(super) fn push_spec(&self, repo: &Path, spec: &str) -> Result<()> {
        let args = [
            os("--quiet"),
            os("--porcelain"),
            os("--no-verify"),
            os("origin"),
            os(spec),
        ];
        self.run(repo, "push", &args).map(drop)
    }

    /// `git fetch origin SPEC` in `repo`, in a process group of its own that
    /// is killed after `timeout`.
    pub(super) fn fetch_spec(
        &self,
        repo: &Path,
        spec: &str,
        timeout: std::time::Duration,
    ) -> Result<()> {
        use std::io::Read;
        use std::os::unix::process::CommandExt;
        self.confine(repo)?;
        let mut cmd = self.command(Some(repo), &[], "fetch");
        cmd.args([
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-auto-maintenance",
            "--no-recurse-submodules",
            "origin",
        ])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
        let mut child = cmd.spawn().map_err(|e| spawn_error(&self.program, e))?;
        let mut pipe = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(p) = pipe.as_mut() {
                let _ = p.read_to_string(&mut text);
            }
            text
        });
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child
                .try_wait()
                .map_err(|e| Error::io("cannot wait for git fetch", e))?
            {
                break st;
            }
            if start.elapsed() >= timeout {
                kill_group(&mut child);
                let _ = reader.join();
                return Err(Error::Command {
                    program: "git fetch".into(),
                    message: format!("no answer from origin within {}s", timeout.as_secs()),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let stderr = reader.join().unwrap_or_default();
        let out = Output {
            status,
            stdout: String::new(),
            stderr,
        };
        if !out.status.success() {
            return Err(command_error("fetch", &out));
        }
        Ok(())
    }

    /// Runs `git -C dir sub args...` with `input` on its standard input.
    pub(super) fn exec_input(
        &self,
        dir: &Path,
        sub: &str,
        args: &[&OsStr],
        input: &str,
    ) -> Result<Output> {
        use std::io::Write;
        self.confine(dir)?;
        let mut cmd = self.command(Some(dir), &[], sub);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| spawn_error(&self.program, e))?;
        let mut stdin = child.stdin.take();
        // Written from another thread: git may answer before it read all.
        let out = std::thread::scope(|s| {
            s.spawn(move || {
                if let Some(w) = stdin.as_mut() {
                    let _ = w.write_all(input.as_bytes());
                }
                drop(stdin);
            });
            child.wait_with_output()
        })
        .map_err(|e| spawn_error(&self.program, e))?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The commit `HEAD` of `wt` points to.
    pub(super) fn head_of(&self, wt: &Path) -> Result<String> {
        // A detached `HEAD` is a file holding the object id (files ref
        // backend): read it without a process. Anything else asks git.
        if let Some(dir) = worktree_git_dir(wt) {
            if let Ok(text) = std::fs::read_to_string(dir.join("HEAD")) {
                let oid = text.trim_end_matches('\n');
                if validate_oid(oid).is_ok() {
                    return Ok(oid.to_string());
                }
            }
        }
        let out = self.run(wt, "rev-parse", &[os("--verify"), os("HEAD")])?;
        Ok(out.trim().to_string())
    }

    /// Paths with unresolved conflicts in `wt`.
    fn unmerged_paths(&self, wt: &Path) -> Result<Vec<String>> {
        let args = [
            os("--name-only"),
            os("--no-ext-diff"),
            os("--diff-filter=U"),
            os("-z"),
        ];
        let out = self.exec(Some(wt), &[], "diff", &args)?;
        let mut files: Vec<String> = out
            .stdout
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// Whether the index of `wt` differs from `HEAD` (anything to commit).
    fn has_staged_changes(&self, wt: &Path) -> Result<bool> {
        let args = [
            os("--cached"),
            os("--quiet"),
            os("--no-ext-diff"),
            os("--no-textconv"),
        ];
        Ok(!self.run_yes_no(wt, "diff", &args)?)
    }
}

impl GitCli {
    /// The object id a full ref points to, `None` when it does not exist.
    fn read_ref(&self, repo: &Path, refname: &str) -> Result<Option<String>> {
        let args = [os("--verify"), os("--quiet"), os(refname)];
        let out = self.exec(Some(repo), &[], "rev-parse", &args)?;
        match out.status.code() {
            Some(0) => Ok(Some(out.stdout.trim().to_string())),
            Some(1) => Ok(None),
            _ => Err(command_error("rev-parse", &out)),
        }
    }
}

/// The git dir of worktree `wt` (its `.git` folder, or the folder a `.git`
/// file points to), when it can be read without git.
pub(super) fn worktree_git_dir(wt: &Path) -> Option<PathBuf> {
    let dotgit = wt.join(".git");
    let meta = dotgit.symlink_metadata().ok()?;
    if meta.is_dir() {
        return Some(dotgit);
    }
    if !meta.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(&dotgit).ok()?;
    let dir = text
        .strip_prefix("gitdir: ")?
        .trim_end_matches(['\n', '\r']);
    if dir.is_empty() {
        return None;
    }
    let dir = wt.join(dir);
    dir.is_dir().then_some(dir)
}

/// Kills `child` and its process group (it was started as a group leader).
pub(super) fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

pub(super) fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

pub(super) fn oid_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn spawn_error(program: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Environment(format!(
            "git is not installed or not on PATH (cannot run {})",
            program.display()
        ))
    } else {
        Error::io(format!("cannot run {}", program.display()), e)
    }
}

pub(super) fn command_error(sub: &str, out: &Output) -> Error {
    Error::Command {
        program: format!("git {sub}"),
        message: short_message(&out.stderr, &out.stdout, out.status),
    }
}

/// A short message for a failed command: its trimmed stderr (else stdout),
/// at most the last 500 bytes, else the exit status.
pub(crate) fn short_message(stderr: &str, stdout: &str, status: ExitStatus) -> String {
    const MAX: usize = 500;
    let text = match stderr.trim() {
        "" => stdout.trim(),
        s => s,
    };
    if text.is_empty() {
        return match status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "killed by a signal".to_string(),
        };
    }
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut start = text.len() - MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

/// The worktree `wt`'s `.git` is a file whose git metadata points back at
/// this same `.git`: what `git worktree add` made. An agent that points its
/// `.git` at another worktree's metadata (so that gt would commit its files
/// onto the other's branch), makes it a link, or deletes the metadata, is
/// refused.
pub fn check_own_worktree(wt: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::refused(format!(
            "{}: {why}; gt runs no git there",
            wt.display()
        )))
    };
    let dotgit = wt.join(".git");
    if !dotgit.symlink_metadata().is_ok_and(|m| m.is_file()) {
        return refuse(".git is not a file");
    }
    let gitdir = std::fs::read_to_string(&dotgit).ok().and_then(|t| {
        let d = t.strip_prefix("gitdir: ")?.trim_end_matches(['\n', '\r']);
        Some(wt.join(d))
    });
    let back = gitdir.as_ref().and_then(|d| {
        let b = std::fs::read_to_string(d.join("gitdir")).ok()?;
        d.join(b.trim_end_matches(['\n', '\r'])).canonicalize().ok()
    });
    if back.is_none() || back != dotgit.canonicalize().ok() {
        return refuse(".git leads to git metadata that is not this worktree's");
    }
    Ok(())
}
