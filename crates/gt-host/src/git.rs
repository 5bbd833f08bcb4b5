//! The git seam: every git effect of gt goes through the [`Git`] trait.
//!
//! [`GitCli`] drives the `git` command line with `std::process::Command`,
//! each argument passed separately (never through a shell). Tests and other
//! modules can substitute a fake implementing [`Git`].
//!
//! Conventions:
//! - `repo` is a bare repository path, `wt` a worktree path. Read-only
//!   operations taking `repo` work on a worktree path too (git finds the
//!   shared repository from it).
//! - Branch names are short names (`polecat/toast`), checked with
//!   [`validate_branch_name`]; revisions (`main`, an id, `main~2`) with
//!   [`validate_rev`]; full ref names (`refs/heads/main`) with
//!   [`validate_ref_name`]. The checks are stricter than git's own, so a name
//!   that passes is always valid for git and can never be read as an option.
//! - A failed command is [`Error::Command`] (program = `git <subcommand>`,
//!   message = trimmed, shortened stderr). A missing `git` is
//!   [`Error::Environment`].
//!
//! Identity: commits made by gt ([`Git::commit_all`]) must work on machines
//! where the user configured no git identity. Before committing, `GitCli`
//! asks git (`git config --get user.name` / `user.email`, all scopes, in the
//! worktree) and only when a value is unset — and not provided through
//! `GIT_COMMITTER_*`/`EMAIL` in the environment — it passes
//! `-c user.name=...`/`-c user.email=...` with a fallback identity
//! (`Gas Town <gt@gastown.invalid>` unless changed with
//! [`GitCli::with_fallback_identity`]). A configured identity is always kept.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// The all-zero object id: as the expected old value of
/// [`Git::update_ref`], it means "the ref must not exist yet".
pub const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// Bounds of [`Git::clone_bare`].
#[derive(Debug, Clone, Default)]
pub struct CloneLimits {
    /// Give up (and kill git) after this long.
    pub timeout: Option<std::time::Duration>,
    /// Give up (and kill git) as soon as this is set (a signal handler's flag).
    pub cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Where to write git's process id (also its process group id) once it
    /// runs, so what a killed caller left running can be found and ended.
    pub pid_file: Option<PathBuf>,
}

/// One commit of a range.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// Full object id.
    pub id: String,
    /// First line of the message.
    pub subject: String,
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorktreeInfo {
    pub path: PathBuf,
    /// Commit checked out; `None` for the bare repository itself.
    pub head: Option<String>,
    /// Short branch name (`polecat/toast`); `None` when detached or bare.
    pub branch: Option<String>,
    pub bare: bool,
    pub detached: bool,
    pub locked: bool,
    /// Git considers the worktree's directory gone (`worktree prune` would remove it).
    pub prunable: bool,
}

/// One line of `git status --porcelain`: a changed, staged or untracked path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The two status letters (`" M"`, `"A "`, `"??"`, ...).
    pub code: String,
    /// Path relative to the worktree root (the new path for a rename).
    pub path: String,
}

/// Every git operation gt needs. Object-safe, so callers hold `&dyn Git` or
/// `Arc<dyn Git>`.
pub trait Git: Send + Sync {
    /// Clones `source` (URL or local path) as a bare repository into `dest`
    /// (which must not exist or be empty). Progress lines from git are passed
    /// to `progress` as they arrive. A bare clone maps the source's branches
    /// one to one onto local `refs/heads/*`, and its `HEAD` names the source's
    /// default branch.
    /// `limits` bounds how long it may take and lets a caller interrupt it
    /// (git and every process it started are killed then).
    fn clone_bare(
        &self,
        source: &str,
        dest: &Path,
        limits: &CloneLimits,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()>;

    /// Creates a non-bare repository in the existing directory `dir` whose
    /// first branch is `branch` (for sample repositories).
    fn init(&self, dir: &Path, branch: &str) -> Result<()>;

    /// The branch `HEAD` of `repo` points to (`main`). `Refused` when `HEAD`
    /// is detached.
    fn default_branch(&self, repo: &Path) -> Result<String>;

    /// Whether `refs/heads/<branch>` exists.
    fn branch_exists(&self, repo: &Path, branch: &str) -> Result<bool>;

    /// The full commit id `rev` names, or `None` when it names no commit.
    fn resolve(&self, repo: &Path, rev: &str) -> Result<Option<String>>;

    /// Adds a worktree at `wt` on a new branch `branch` cut from `start`
    /// (a branch or commit). Fails when the branch already exists.
    fn worktree_add(&self, repo: &Path, wt: &Path, branch: &str, start: &str) -> Result<()>;

    /// Adds a worktree at `wt` checking out the existing branch `branch`
    /// (its commits are kept).
    fn worktree_add_existing(&self, repo: &Path, wt: &Path, branch: &str) -> Result<()>;

    /// Switches the clean worktree `wt` to branch `branch`, created (or reset
    /// when it exists) at `start`. `Refused` when the worktree has changes.
    fn switch_branch(&self, wt: &Path, branch: &str, start: &str) -> Result<()>;

    /// Removes the worktree at `wt`. Without `force`, git refuses when the
    /// worktree has changes or untracked files.
    fn worktree_remove(&self, repo: &Path, wt: &Path, force: bool) -> Result<()>;

    /// Forgets worktrees whose directory is gone.
    fn worktree_prune(&self, repo: &Path) -> Result<()>;

    /// All worktrees of `repo`, the main (bare) one first.
    fn worktree_list(&self, repo: &Path) -> Result<Vec<WorktreeInfo>>;

    /// Changed, staged and untracked (not ignored) paths of `wt`.
    fn status(&self, wt: &Path) -> Result<Vec<StatusEntry>>;

    /// Whether `wt` has tracked changes or untracked files (ignored files do
    /// not count).
    fn is_dirty(&self, wt: &Path) -> Result<bool> {
        Ok(!self.status(wt)?.is_empty())
    }

    /// Stages everything in `wt` (`add -A`) and commits it with `message`.
    /// Returns the new commit id, or `None` when there was nothing to commit.
    fn commit_all(&self, wt: &Path, message: &str) -> Result<Option<String>>;

    /// Commits reachable from `head` but not from `base` (`base..head`),
    /// newest first.
    fn commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<Vec<CommitInfo>>;

    /// The number of commits in `base..head`.
    fn count_commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<usize>;

    /// Deletes a branch. Without `force`, git refuses an unmerged branch.
    /// Git always refuses a branch checked out in a worktree.
    fn delete_branch(&self, repo: &Path, branch: &str, force: bool) -> Result<()>;

    /// Short names of the branches matching `pattern`, relative to
    /// `refs/heads/` (`for-each-ref` rules: `polecat/*` matches one level,
    /// `*` not crossing `/`; a prefix ending in `/`, like `polecat/`, matches
    /// everything below it). Sorted by name.
    fn list_branches(&self, repo: &Path, pattern: &str) -> Result<Vec<String>>;

    /// Writes a bundle file containing `branches` (and their history).
    fn bundle_create(&self, repo: &Path, file: &Path, branches: &[String]) -> Result<()>;

    /// Sets the full ref `refname` to commit `new`. With `expected_old`, the
    /// update is a compare-and-swap: it happens only if the ref currently
    /// has that value ([`ZERO_OID`] = must not exist), else `Refused`.
    fn update_ref(
        &self,
        repo: &Path,
        refname: &str,
        new: &str,
        expected_old: Option<&str>,
    ) -> Result<()>;

    /// Whether `ancestor` is an ancestor of (or equal to) `descendant`.
    fn is_ancestor(&self, repo: &Path, ancestor: &str, descendant: &str) -> Result<bool>;

    /// Adds a worktree at `wt` with a detached `HEAD` at `commit` (the
    /// refinery's own worktree).
    fn worktree_add_detached(&self, repo: &Path, wt: &Path, commit: &str) -> Result<()> {
        let _ = (repo, wt, commit);
        Err(Error::Internal(
            "worktree_add_detached is not supported".into(),
        ))
    }

    /// Puts worktree `wt` on a detached `HEAD` at `commit`, discarding its
    /// changes and untracked (not ignored) files. Ends a rebase or merge left
    /// in progress by an interrupted run first.
    fn reset_detached(&self, wt: &Path, commit: &str) -> Result<()> {
        let _ = (wt, commit);
        Err(Error::Internal("reset_detached is not supported".into()))
    }

    /// Rebases the commits of `HEAD` (a branch or a detached `HEAD`) — or,
    /// with `start`, of that commit, checked out detached first — onto
    /// `onto` in worktree `wt`. `prefer_mine` resolves conflicting hunks in
    /// favour of the commits being rebased (`-X theirs`). On a conflict the
    /// rebase is aborted (`HEAD` is back where it was) and the conflicting
    /// files are returned.
    fn rebase(
        &self,
        wt: &Path,
        onto: &str,
        start: Option<&str>,
        prefer_mine: bool,
    ) -> Result<Integration> {
        let _ = (wt, onto, start, prefer_mine);
        Err(Error::Internal("rebase is not supported".into()))
    }

    /// Merges `commit` into the (detached or branch) `HEAD` of `wt`: a merge
    /// commit (`squash` false) or one squashed commit with `message`. On a
    /// conflict the merge is aborted and the conflicting files are returned.
    fn merge_into_head(
        &self,
        wt: &Path,
        commit: &str,
        message: &str,
        squash: bool,
    ) -> Result<Integration> {
        let _ = (wt, commit, message, squash);
        Err(Error::Internal("merge is not supported".into()))
    }

    /// Deletes the full ref `refname`, only if it still points to
    /// `expected_old` (works on a branch checked out in a worktree too, so
    /// callers check that first). `Refused` when it moved.
    fn delete_ref(&self, repo: &Path, refname: &str, expected_old: &str) -> Result<()> {
        let _ = (repo, refname, expected_old);
        Err(Error::Internal("delete_ref is not supported".into()))
    }

    /// Detaches `HEAD` of worktree `wt` at its current commit (files untouched).
    fn detach_head(&self, wt: &Path) -> Result<()> {
        let _ = wt;
        Err(Error::Internal("detach_head is not supported".into()))
    }

    /// Pushes `commit` to `refs/heads/<branch>` of remote `origin`
    /// (fast-forward only: never forced).
    fn push(&self, repo: &Path, commit: &str, branch: &str) -> Result<()> {
        let _ = (repo, commit, branch);
        Err(Error::Internal("push is not supported".into()))
    }

    /// Writes gt's transport policy into the repository config (for the
    /// agents' own git; gt's commands pin it anyway): only file, git,
    /// http(s) and ssh.
    fn pin_protocol_policy(&self, _repo: &Path) -> Result<()> {
        Err(Error::Internal(
            "pin_protocol_policy is not supported".into(),
        ))
    }

    /// The `(key, value)` entries of a config file, as git reads it (keys in
    /// git's canonical form, includes not followed).
    fn config_file_entries(&self, _file: &Path) -> Result<Vec<(String, String)>> {
        Err(Error::Internal(
            "config_file_entries is not supported".into(),
        ))
    }

    /// Fetches `branch` of remote `origin` into `refs/remotes/origin/<branch>`
    /// (forced: it mirrors the upstream) and returns the upstream tip. Gives
    /// up after `timeout`.
    fn fetch_upstream(
        &self,
        _repo: &Path,
        _branch: &str,
        _timeout: std::time::Duration,
    ) -> Result<String> {
        Err(Error::Internal("fetch is not supported".into()))
    }

    /// Whether `path` (relative to the worktree) is tracked in `wt`.
    fn is_tracked(&self, _wt: &Path, _path: &str) -> Result<bool> {
        Err(Error::Internal("is_tracked is not supported".into()))
    }

    /// [`Git::resolve`] for several revisions at once, in order.
    fn resolve_many(&self, repo: &Path, revs: &[&str]) -> Result<Vec<Option<String>>> {
        revs.iter().map(|r| self.resolve(repo, r)).collect()
    }

    /// Whether every commit of `ancestors` is an ancestor of (or equal to)
    /// `descendant` ([`Git::is_ancestor`] for several at once).
    fn all_ancestors(&self, repo: &Path, ancestors: &[&str], descendant: &str) -> Result<bool> {
        for a in ancestors {
            if !self.is_ancestor(repo, a, descendant)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// [`Git::delete_ref`] for several `(refname, expected_old)` at once:
    /// one result per ref, in order (each ref is deleted only if it still
    /// points to its expected value).
    fn delete_refs(&self, repo: &Path, refs: &[(&str, &str)]) -> Vec<Result<()>> {
        refs.iter()
            .map(|(r, old)| self.delete_ref(repo, r, old))
            .collect()
    }

    /// While the returned guard lives, the implementation may remember what
    /// it looked up about the committer identity of a worktree (instead of
    /// asking git again for every rebase or merge there). For a caller doing
    /// many integrations in one worktree in a short time (the refinery).
    fn identity_cache(&self) -> IdentityCacheGuard {
        IdentityCacheGuard(None)
    }
}

/// Keeps an identity cache alive (see [`Git::identity_cache`]); the cache is
/// dropped with the last guard.
pub struct IdentityCacheGuard(Option<Arc<Mutex<IdentityCache>>>);

impl Drop for IdentityCacheGuard {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
            c.users = c.users.saturating_sub(1);
            if c.users == 0 {
                c.entries.clear();
            }
        }
    }
}

/// Identity overrides per worktree, kept while a guard lives.
#[derive(Debug, Default)]
pub struct IdentityCache {
    users: usize,
    entries: Vec<(PathBuf, Vec<String>)>,
}

/// What a rebase or merge in a worktree produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// Done: the new `HEAD`.
    Done(String),
    /// Stopped on conflicts (and aborted): the conflicting paths.
    Conflict(Vec<String>),
}

/// Variables that would make git ignore `-C` and act on another repository
/// (they are set when gt runs inside a git hook).
const SCRUBBED_ENV: &[&str] = &[
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

/// Environment pinned on every git command unless gt's own environment sets
/// it: it overrides the config keys of the same meaning (`core.editor`,
/// `sequence.editor`, `core.pager`, `core.askPass`, `core.gitProxy`).
const PINNED_ENV: &[(&str, &str)] = &[
    ("GIT_EDITOR", ":"),
    ("GIT_SEQUENCE_EDITOR", ":"),
    ("GIT_PAGER", "cat"),
    ("GIT_ASKPASS", ""),
    ("GIT_PROXY_COMMAND", ""),
];

/// The user's own settings (global and system config, never a
/// repository's) for the keys gt resets: `core.sshCommand` and the
/// credential helpers. Looked up once per [`GitCli`].
fn lookup_trusted(program: &Path, env: &[(OsString, Option<OsString>)]) -> Vec<String> {
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
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
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
            return Ok(());
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
    fn trusted(&self) -> &[String] {
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

    fn command(&self, dir: Option<&Path>, config: &[String], sub: &str) -> Command {
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
        for c in self.trusted().iter() {
            cmd.arg("-c").arg(c);
        }
        for c in config {
            cmd.arg("-c").arg(c);
        }
        cmd.arg(sub);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `git [-C dir] [-c config]... sub args...` to completion.
    fn exec(
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
    fn run(&self, dir: &Path, sub: &str, args: &[&OsStr]) -> Result<String> {
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
    fn identity_overrides(&self, wt: &Path) -> Result<Vec<String>> {
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

impl Git for GitCli {
    fn init(&self, dir: &Path, branch: &str) -> Result<()> {
        validate_branch_name(branch)?;
        let b = format!("--initial-branch={branch}");
        self.run(dir, "init", &[os("--quiet"), os(&b)]).map(drop)
    }

    fn clone_bare(
        &self,
        source: &str,
        dest: &Path,
        limits: &CloneLimits,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        use std::os::unix::process::CommandExt;
        use std::sync::atomic::Ordering;
        if source.trim().is_empty() || source.chars().any(char::is_control) {
            return Err(Error::invalid(
                "clone source must be a non-empty URL or path without control characters",
            ));
        }
        let mut cmd = self.command(None, &[], "clone");
        cmd.args(["--bare", "--progress", "--"])
            .arg(source)
            .arg(dest)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a timeout or an interrupt ends git and
            // every helper it started (ssh, remote helpers, upload-pack).
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| spawn_error(&self.program, e))?;
        if let Some(f) = &limits.pid_file {
            if let Err(e) = crate::fsutil::write_atomic(f, format!("{}\n", child.id()).as_bytes()) {
                kill_group(&mut child);
                return Err(e);
            }
        }
        let Some(mut stderr) = child.stderr.take() else {
            kill_group(&mut child);
            return Err(Error::Internal("git clone: no stderr pipe".into()));
        };
        // Git rewrites progress lines in place with '\r'; every '\r' or '\n'
        // ends a line. Read on a thread so the wait below can give up.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut line: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            let send = |line: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(line).trim().to_string();
                line.clear();
                if !text.is_empty() {
                    let _ = tx.send(text);
                }
            };
            loop {
                let n = match stderr.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                for &b in &buf[..n] {
                    if b == b'\r' || b == b'\n' {
                        send(&mut line);
                    } else {
                        line.push(b);
                    }
                }
            }
            send(&mut line);
        });
        // The last lines are kept for the error message.
        let mut tail: Vec<String> = Vec::new();
        let mut emit = |text: String, tail: &mut Vec<String>| {
            progress(&text);
            tail.push(text);
            if tail.len() > 20 {
                tail.remove(0);
            }
        };
        let start = std::time::Instant::now();
        let status = loop {
            match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(text) => {
                    emit(text, &mut tail);
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    // Output is done: git is about to exit.
                    break child
                        .wait()
                        .map_err(|e| Error::io("cannot wait for git clone", e))?;
                }
            }
            if let Some(status) = child
                .try_wait()
                .map_err(|e| Error::io("cannot wait for git clone", e))?
            {
                break status;
            }
            let cancelled = limits
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst));
            let timed_out = limits.timeout.is_some_and(|t| start.elapsed() >= t);
            if cancelled || timed_out {
                kill_group(&mut child);
                let _ = reader.join();
                return Err(if cancelled {
                    Error::refused("the clone was interrupted")
                } else {
                    Error::invalid(format!(
                        "the clone took longer than {}s (rig.clone_timeout)",
                        limits.timeout.map_or(0, |t| t.as_secs())
                    ))
                });
            }
        };
        let _ = reader.join();
        for text in rx.try_iter() {
            emit(text, &mut tail);
        }
        if status.success() {
            return Ok(());
        }
        // Prefer git's own "fatal:"/"error:" lines over progress noise.
        let errors: Vec<&str> = tail
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("fatal:") || l.starts_with("error:"))
            .collect();
        let stderr = if errors.is_empty() {
            tail.last().cloned().unwrap_or_default()
        } else {
            errors.join("\n")
        };
        Err(command_error(
            "clone",
            &Output {
                status,
                stdout: String::new(),
                stderr,
            },
        ))
    }

    fn default_branch(&self, repo: &Path) -> Result<String> {
        let args = [os("--quiet"), os("--short"), os("HEAD")];
        let out = self.exec(Some(repo), &[], "symbolic-ref", &args)?;
        match out.status.code() {
            Some(0) => Ok(out.stdout.trim().to_string()),
            Some(1) => Err(Error::refused(format!(
                "HEAD of {} is detached: it names no branch",
                repo.display()
            ))),
            _ => Err(command_error("symbolic-ref", &out)),
        }
    }

    fn branch_exists(&self, repo: &Path, branch: &str) -> Result<bool> {
        validate_branch_name(branch)?;
        let full = format!("refs/heads/{branch}");
        self.run_yes_no(
            repo,
            "show-ref",
            &[os("--verify"), os("--quiet"), os(&full)],
        )
    }

    fn resolve(&self, repo: &Path, rev: &str) -> Result<Option<String>> {
        validate_rev(rev)?;
        let spec = format!("{rev}^{{commit}}");
        let args = [os("--verify"), os("--quiet"), os(&spec)];
        let out = self.exec(Some(repo), &[], "rev-parse", &args)?;
        match out.status.code() {
            Some(0) => Ok(Some(out.stdout.trim().to_string())),
            Some(1) => Ok(None),
            _ => Err(command_error("rev-parse", &out)),
        }
    }

    fn worktree_add(&self, repo: &Path, wt: &Path, branch: &str, start: &str) -> Result<()> {
        validate_branch_name(branch)?;
        validate_rev(start)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--no-track"),
            os("-b"),
            os(branch),
            os("--"),
            wt.as_os_str(),
            os(start),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn worktree_add_existing(&self, repo: &Path, wt: &Path, branch: &str) -> Result<()> {
        validate_branch_name(branch)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--"),
            wt.as_os_str(),
            os(branch),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn switch_branch(&self, wt: &Path, branch: &str, start: &str) -> Result<()> {
        validate_branch_name(branch)?;
        validate_rev(start)?;
        if self.is_dirty(wt)? {
            return Err(Error::refused(format!(
                "worktree {} has uncommitted changes",
                wt.display()
            )));
        }
        let args = [
            os("--quiet"),
            os("--no-track"),
            os("-C"),
            os(branch),
            os("--"),
            os(start),
        ];
        self.run(wt, "switch", &args).map(drop)
    }

    fn worktree_remove(&self, repo: &Path, wt: &Path, force: bool) -> Result<()> {
        let mut args = vec![os("remove")];
        if force {
            args.push(os("--force"));
        }
        args.push(os("--"));
        args.push(wt.as_os_str());
        self.run(repo, "worktree", &args).map(drop)
    }

    fn worktree_prune(&self, repo: &Path) -> Result<()> {
        self.run(repo, "worktree", &[os("prune")]).map(drop)
    }

    fn worktree_list(&self, repo: &Path) -> Result<Vec<WorktreeInfo>> {
        let out = self.run(repo, "worktree", &[os("list"), os("--porcelain")])?;
        Ok(parse_worktree_list(&out))
    }

    fn status(&self, wt: &Path) -> Result<Vec<StatusEntry>> {
        // Explicit options so user config (status.showUntrackedFiles=no...)
        // cannot hide changes.
        let args = [os("--porcelain"), os("-z"), os("--untracked-files=normal")];
        let out = self.run(wt, "status", &args)?;
        Ok(parse_status_z(&out))
    }

    fn commit_all(&self, wt: &Path, message: &str) -> Result<Option<String>> {
        if message.trim().is_empty() {
            return Err(Error::invalid("commit message must not be empty"));
        }
        if message.contains('\0') {
            return Err(Error::invalid("commit message must not contain NUL"));
        }
        self.run(wt, "add", &[os("-A")])?;
        let staged = !self.run_yes_no(
            wt,
            "diff",
            &[
                os("--cached"),
                os("--quiet"),
                os("--no-ext-diff"),
                os("--no-textconv"),
            ],
        )?;
        if !staged {
            return Ok(None);
        }
        let config = self.identity_overrides(wt)?;
        let args = [
            os("--quiet"),
            os("--no-verify"),
            os("--no-edit"),
            os("--cleanup=whitespace"),
            os("-m"),
            os(message),
        ];
        let out = self.exec(Some(wt), &config, "commit", &args)?;
        if !out.status.success() {
            return Err(command_error("commit", &out));
        }
        let head = self.run(wt, "rev-parse", &[os("--verify"), os("HEAD")])?;
        Ok(Some(head.trim().to_string()))
    }

    fn commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<Vec<CommitInfo>> {
        validate_rev(base)?;
        validate_rev(head)?;
        let range = format!("{base}..{head}");
        // rev-list (plumbing) is not affected by log.* user settings. It
        // prints a "commit <id>" header before each formatted line; only the
        // lines holding the 0x1f separator are ours.
        let args = [os("--format=%H%x1f%s"), os(&range), os("--")];
        let out = self.run(repo, "rev-list", &args)?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\u{1f}'))
            .map(|(id, subject)| CommitInfo {
                id: id.to_string(),
                subject: subject.to_string(),
            })
            .collect())
    }

    fn count_commits_between(&self, repo: &Path, base: &str, head: &str) -> Result<usize> {
        validate_rev(base)?;
        validate_rev(head)?;
        let range = format!("{base}..{head}");
        let out = self.run(repo, "rev-list", &[os("--count"), os(&range), os("--")])?;
        out.trim()
            .parse()
            .map_err(|_| Error::Internal(format!("git rev-list --count printed {out:?}")))
    }

    fn delete_branch(&self, repo: &Path, branch: &str, force: bool) -> Result<()> {
        validate_branch_name(branch)?;
        let flag = if force { "-D" } else { "-d" };
        self.run(repo, "branch", &[os(flag), os("--"), os(branch)])
            .map(drop)
    }

    fn list_branches(&self, repo: &Path, pattern: &str) -> Result<Vec<String>> {
        validate_branch_pattern(pattern)?;
        let full = format!("refs/heads/{pattern}");
        let args = [os("--format=%(refname)"), os(&full)];
        let out = self.run(repo, "for-each-ref", &args)?;
        let mut names: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }

    fn bundle_create(&self, repo: &Path, file: &Path, branches: &[String]) -> Result<()> {
        if branches.is_empty() {
            return Err(Error::invalid("a bundle needs at least one branch"));
        }
        let refs = branches
            .iter()
            .map(|b| validate_branch_name(b).map(|_| format!("refs/heads/{b}")))
            .collect::<Result<Vec<_>>>()?;
        // An absolute path can never be mistaken for an option.
        let file = std::path::absolute(file)
            .map_err(|e| Error::io(format!("bad bundle path {}", file.display()), e))?;
        let mut args = vec![os("create"), file.as_os_str()];
        args.extend(refs.iter().map(os));
        self.run(repo, "bundle", &args).map(drop)
    }

    fn update_ref(
        &self,
        repo: &Path,
        refname: &str,
        new: &str,
        expected_old: Option<&str>,
    ) -> Result<()> {
        validate_ref_name(refname)?;
        validate_oid(new)?;
        if let Some(old) = expected_old {
            validate_oid(old)?;
        }
        let mut args = vec![os("-m"), os("gt"), os(refname), os(new)];
        if let Some(old) = expected_old {
            args.push(os(old));
        }
        let out = self.exec(Some(repo), &[], "update-ref", &args)?;
        if out.status.success() {
            return Ok(());
        }
        // Tell a lost race from other failures by looking at the ref again,
        // not by parsing git's (translated) messages.
        if let Some(old) = expected_old {
            let now = self.read_ref(repo, refname)?;
            let expected = (old != ZERO_OID).then(|| old.to_string());
            let now_matches = match (&now, &expected) {
                (Some(n), Some(e)) => oid_eq(n, e),
                (None, None) => true,
                _ => false,
            };
            if !now_matches {
                return Err(Error::refused(format!(
                    "{refname} moved: expected {}, found {}",
                    expected.as_deref().unwrap_or("no ref"),
                    now.as_deref().unwrap_or("no ref"),
                )));
            }
        }
        Err(command_error("update-ref", &out))
    }

    fn is_ancestor(&self, repo: &Path, ancestor: &str, descendant: &str) -> Result<bool> {
        validate_rev(ancestor)?;
        validate_rev(descendant)?;
        let args = [os("--is-ancestor"), os(ancestor), os(descendant)];
        self.run_yes_no(repo, "merge-base", &args)
    }

    fn worktree_add_detached(&self, repo: &Path, wt: &Path, commit: &str) -> Result<()> {
        validate_rev(commit)?;
        let args = [
            os("add"),
            os("--quiet"),
            os("--detach"),
            os("--"),
            wt.as_os_str(),
            os(commit),
        ];
        self.run(repo, "worktree", &args).map(drop)
    }

    fn reset_detached(&self, wt: &Path, commit: &str) -> Result<()> {
        validate_rev(commit)?;
        // Whatever an interrupted run left in progress is given up (no
        // `--abort` when the worktree's git dir shows none in progress).
        let dir = worktree_git_dir(wt);
        let pending = |names: &[&str]| match &dir {
            Some(d) => names.iter().any(|n| d.join(n).symlink_metadata().is_ok()),
            None => true,
        };
        if pending(&["rebase-merge", "rebase-apply"]) {
            let _ = self.exec(Some(wt), &[], "rebase", &[os("--abort")]);
        }
        if pending(&["MERGE_HEAD"]) {
            let _ = self.exec(Some(wt), &[], "merge", &[os("--abort")]);
        }
        let args = [os("--quiet"), os("--force"), os("--detach"), os(commit)];
        self.run(wt, "checkout", &args)?;
        self.run(wt, "reset", &[os("--quiet"), os("--hard"), os(commit)])?;
        self.run(wt, "clean", &[os("-q"), os("-f"), os("-d")])
            .map(drop)
    }

    fn rebase(
        &self,
        wt: &Path,
        onto: &str,
        start: Option<&str>,
        prefer_mine: bool,
    ) -> Result<Integration> {
        validate_rev(onto)?;
        if let Some(s) = start {
            validate_oid(s)?;
        }
        let mut config = self.identity_overrides(wt)?;
        config.push("rebase.autoSquash=false".into());
        config.push("rebase.autoStash=false".into());
        config.push("rebase.updateRefs=false".into());
        let mut args = vec![os("--quiet"), os("--no-verify"), os("--no-autosquash")];
        if prefer_mine {
            args.extend([os("-X"), os("theirs")]);
        }
        args.push(os(onto));
        if let Some(s) = start {
            args.push(os(s));
        }
        let out = self.exec(Some(wt), &config, "rebase", &args)?;
        if out.status.success() {
            return self.head_of(wt).map(Integration::Done);
        }
        let files = self.unmerged_paths(wt)?;
        let _ = self.exec(Some(wt), &[], "rebase", &[os("--abort")]);
        if files.is_empty() {
            return Err(command_error("rebase", &out));
        }
        Ok(Integration::Conflict(files))
    }

    fn merge_into_head(
        &self,
        wt: &Path,
        commit: &str,
        message: &str,
        squash: bool,
    ) -> Result<Integration> {
        validate_rev(commit)?;
        if message.trim().is_empty() || message.contains('\0') {
            return Err(Error::invalid("merge message must be non-empty text"));
        }
        let config = self.identity_overrides(wt)?;
        let mut args = vec![os("--quiet"), os("--no-verify"), os("--no-edit")];
        if squash {
            args.push(os("--squash"));
        } else {
            args.extend([os("--no-ff"), os("-m"), os(message)]);
        }
        args.push(os(commit));
        let out = self.exec(Some(wt), &config, "merge", &args)?;
        if !out.status.success() {
            let files = self.unmerged_paths(wt)?;
            let _ = self.exec(Some(wt), &[], "merge", &[os("--abort")]);
            if squash {
                let _ = self.exec(Some(wt), &[], "reset", &[os("--quiet"), os("--hard")]);
            }
            if files.is_empty() {
                return Err(command_error("merge", &out));
            }
            return Ok(Integration::Conflict(files));
        }
        if squash {
            let staged = !self.run_yes_no(
                wt,
                "diff",
                &[
                    os("--cached"),
                    os("--quiet"),
                    os("--no-ext-diff"),
                    os("--no-textconv"),
                ],
            )?;
            if staged {
                let args = [
                    os("--quiet"),
                    os("--no-verify"),
                    os("--no-edit"),
                    os("-m"),
                    os(message),
                ];
                let out = self.exec(Some(wt), &config, "commit", &args)?;
                if !out.status.success() {
                    return Err(command_error("commit", &out));
                }
            }
        }
        self.head_of(wt).map(Integration::Done)
    }

    fn delete_ref(&self, repo: &Path, refname: &str, expected_old: &str) -> Result<()> {
        validate_ref_name(refname)?;
        validate_oid(expected_old)?;
        let args = [os("-m"), os("gt"), os("-d"), os(refname), os(expected_old)];
        let out = self.exec(Some(repo), &[], "update-ref", &args)?;
        if out.status.success() {
            return Ok(());
        }
        match self.read_ref(repo, refname)? {
            Some(now) if !oid_eq(&now, expected_old) => Err(Error::refused(format!(
                "{refname} moved: expected {expected_old}, found {now}"
            ))),
            None => Ok(()),
            _ => Err(command_error("update-ref", &out)),
        }
    }

    fn detach_head(&self, wt: &Path) -> Result<()> {
        self.run(wt, "checkout", &[os("--quiet"), os("--detach")])
            .map(drop)
    }

    fn push(&self, repo: &Path, commit: &str, branch: &str) -> Result<()> {
        validate_oid(commit)?;
        validate_branch_name(branch)?;
        let spec = format!("{commit}:refs/heads/{branch}");
        let args = [
            os("--quiet"),
            os("--porcelain"),
            os("--no-verify"),
            os("origin"),
            os(&spec),
        ];
        self.run(repo, "push", &args).map(drop)
    }

    fn pin_protocol_policy(&self, repo: &Path) -> Result<()> {
        for entry in PINNED_CONFIG.iter().filter(|c| c.starts_with("protocol.")) {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            self.run(repo, "config", &[os(key), os(value)])?;
        }
        Ok(())
    }

    fn config_file_entries(&self, file: &Path) -> Result<Vec<(String, String)>> {
        let file = std::path::absolute(file)
            .map_err(|e| Error::io(format!("bad config path {}", file.display()), e))?;
        let args = [os("--file"), file.as_os_str(), os("--list"), os("-z")];
        let out = self.exec(None, &[], "config", &args)?;
        if !out.status.success() {
            return Err(command_error("config", &out));
        }
        Ok(out
            .stdout
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (k, v) = e.split_once('\n').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect())
    }

    fn fetch_upstream(
        &self,
        repo: &Path,
        branch: &str,
        timeout: std::time::Duration,
    ) -> Result<String> {
        use std::os::unix::process::CommandExt;
        validate_branch_name(branch)?;
        let tracking = format!("refs/remotes/origin/{branch}");
        let spec = format!("+refs/heads/{branch}:{tracking}");
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
        .arg(&spec)
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
        self.read_ref(repo, &tracking)?
            .ok_or_else(|| Error::Environment(format!("origin has no branch {branch}")))
    }

    fn is_tracked(&self, wt: &Path, path: &str) -> Result<bool> {
        let args = [os("--error-unmatch"), os("--"), os(path)];
        self.run_yes_no(wt, "ls-files", &args)
    }

    fn resolve_many(&self, repo: &Path, revs: &[&str]) -> Result<Vec<Option<String>>> {
        if revs.len() < 2 {
            return revs.iter().map(|r| self.resolve(repo, r)).collect();
        }
        let mut input = String::new();
        for r in revs {
            validate_rev(r)?;
            input.push_str(r);
            input.push_str("^{commit}\n");
        }
        // One line out per line in: `<oid> commit <size>`, or `<rev>
        // missing` / `<rev> ambiguous` for what is not a commit here.
        let args = [os("--batch-check=%(objectname) %(objecttype)")];
        let out = self.exec_input(repo, "cat-file", &args, &input)?;
        if !out.status.success() {
            return Err(command_error("cat-file", &out));
        }
        let lines: Vec<&str> = out.stdout.lines().collect();
        if lines.len() != revs.len() {
            return Err(Error::Internal(format!(
                "git cat-file answered {} lines for {} revisions",
                lines.len(),
                revs.len()
            )));
        }
        Ok(lines
            .iter()
            .map(|l| match l.split_once(' ') {
                Some((oid, "commit")) if validate_oid(oid).is_ok() => Some(oid.to_string()),
                _ => None,
            })
            .collect())
    }

    fn all_ancestors(&self, repo: &Path, ancestors: &[&str], descendant: &str) -> Result<bool> {
        if ancestors.len() < 2 {
            return match ancestors.first() {
                Some(a) => self.is_ancestor(repo, a, descendant),
                None => Ok(true),
            };
        }
        validate_rev(descendant)?;
        // Commits reachable from any of them but not from `descendant`: none
        // exactly when each of them is an ancestor of (or is) `descendant`.
        let mut args = vec![os("-n"), os("1")];
        for a in ancestors {
            validate_rev(a)?;
            args.push(os(*a));
        }
        args.extend([os("--not"), os(descendant), os("--")]);
        let out = self.run(repo, "rev-list", &args)?;
        Ok(out.trim().is_empty())
    }

    fn delete_refs(&self, repo: &Path, refs: &[(&str, &str)]) -> Vec<Result<()>> {
        if refs.len() < 2 {
            return refs
                .iter()
                .map(|(r, old)| self.delete_ref(repo, r, old))
                .collect();
        }
        // All of them in one transaction; when that fails (one moved or is
        // gone), each on its own so each gets its own answer.
        let mut input = String::new();
        let mut valid = true;
        for (r, old) in refs {
            valid &= validate_ref_name(r).is_ok() && validate_oid(old).is_ok();
            input.push_str(&format!("delete {r} {old}\n"));
        }
        if valid {
            let args = [os("-m"), os("gt"), os("--stdin")];
            if let Ok(out) = self.exec_input(repo, "update-ref", &args, &input) {
                if out.status.success() {
                    return refs.iter().map(|_| Ok(())).collect();
                }
            }
        }
        refs.iter()
            .map(|(r, old)| self.delete_ref(repo, r, old))
            .collect()
    }

    fn identity_cache(&self) -> IdentityCacheGuard {
        let mut c = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        c.users += 1;
        IdentityCacheGuard(Some(self.identity.clone()))
    }
}

impl GitCli {
    /// Runs `git -C dir sub args...` with `input` on its standard input.
    fn exec_input(&self, dir: &Path, sub: &str, args: &[&OsStr], input: &str) -> Result<Output> {
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
    fn head_of(&self, wt: &Path) -> Result<String> {
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
fn worktree_git_dir(wt: &Path) -> Option<PathBuf> {
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
fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

fn oid_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn spawn_error(program: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Environment(format!(
            "git is not installed or not on PATH (cannot run {})",
            program.display()
        ))
    } else {
        Error::io(format!("cannot run {}", program.display()), e)
    }
}

fn command_error(sub: &str, out: &Output) -> Error {
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

/// Checks a short branch name strictly: ASCII letters, digits, `/`, `-`,
/// `_`, `.`; 1 to 200 bytes; no leading `-`; no empty, dot-leading or
/// `.lock`-ending component; no `..`; not `HEAD`. Everything accepted is also
/// accepted by `git check-ref-format --branch`.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid branch name '{}': {why}",
            name.escape_debug()
        )))
    };
    if name.is_empty() || name.len() > 200 {
        return bad("must be 1 to 200 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')))
    {
        return bad(&format!("character '{}' is not allowed", c.escape_debug()));
    }
    if name.starts_with('-') {
        return bad("must not start with '-'");
    }
    if name == "HEAD" {
        return bad("HEAD is reserved");
    }
    if name.contains("..") {
        return bad("must not contain '..'");
    }
    for part in name.split('/') {
        if part.is_empty() {
            return bad("must not have an empty component");
        }
        if part.starts_with('.') {
            return bad("a component must not start with '.'");
        }
        if part.ends_with(".lock") {
            return bad("a component must not end with '.lock'");
        }
    }
    if name.ends_with('.') {
        return bad("must not end with '.'");
    }
    Ok(())
}

/// A full ref name: `refs/` followed by a valid branch-like name.
pub fn validate_ref_name(refname: &str) -> Result<()> {
    match refname.strip_prefix("refs/") {
        Some(rest) => validate_branch_name(rest)
            .map_err(|_| Error::invalid(format!("invalid ref name '{}'", refname.escape_debug()))),
        None => Err(Error::invalid(format!(
            "invalid ref name '{}': must start with refs/",
            refname.escape_debug()
        ))),
    }
}

/// A revision (`main`, `polecat/x~2`, an object id, `HEAD`): non-empty, at
/// most 256 bytes, not starting with `-`, no whitespace, control characters
/// or `..` (ranges are built by the callee).
pub fn validate_rev(rev: &str) -> Result<()> {
    if rev.is_empty()
        || rev.len() > 256
        || rev.starts_with('-')
        || rev.contains("..")
        || rev.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "invalid revision '{}'",
            rev.escape_debug()
        )));
    }
    Ok(())
}

fn validate_oid(oid: &str) -> Result<()> {
    if (oid.len() == 40 || oid.len() == 64) && oid.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{}' is not a full object id",
            oid.escape_debug()
        )))
    }
}

/// A branch pattern: a branch name that may also contain `*` and end with `/`.
fn validate_branch_pattern(pattern: &str) -> Result<()> {
    let probe = pattern.replace('*', "x");
    let probe = probe.strip_suffix('/').unwrap_or(&probe);
    validate_branch_name(probe).map_err(|_| {
        Error::invalid(format!(
            "invalid branch pattern '{}'",
            pattern.escape_debug()
        ))
    })
}

fn parse_status_z(out: &str) -> Vec<StatusEntry> {
    let mut entries = Vec::new();
    let mut fields = out.split('\0');
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        let (code, path) = (&field[..2], &field[3..]);
        // A rename or copy is followed by its source path.
        if code.contains('R') || code.contains('C') {
            fields.next();
        }
        entries.push(StatusEntry {
            code: code.to_string(),
            path: path.to_string(),
        });
    }
    entries
}

fn parse_worktree_list(out: &str) -> Vec<WorktreeInfo> {
    let mut list = Vec::new();
    let mut cur: Option<WorktreeInfo> = None;
    for line in out.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "worktree" => {
                list.extend(cur.take());
                cur = Some(WorktreeInfo {
                    path: PathBuf::from(unquote(value)),
                    ..WorktreeInfo::default()
                });
            }
            _ => {
                let Some(wt) = cur.as_mut() else { continue };
                match key {
                    "HEAD" => wt.head = Some(value.to_string()),
                    "branch" => {
                        wt.branch = Some(value.strip_prefix("refs/heads/").unwrap_or(value).into())
                    }
                    "bare" => wt.bare = true,
                    "detached" => wt.detached = true,
                    "locked" => wt.locked = true,
                    "prunable" => wt.prunable = true,
                    _ => {}
                }
            }
        }
    }
    list.extend(cur);
    list
}

/// Undoes git's C-style quoting of a path (`"a\"b\n"`); returns other
/// strings unchanged.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'r') => bytes.push(b'\r'),
            Some(b'a') => bytes.push(7),
            Some(b'b') => bytes.push(8),
            Some(b'f') => bytes.push(12),
            Some(b'v') => bytes.push(11),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                bytes.push(v as u8);
            }
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Helpers for tests of this and other modules: a git with no user or
/// system configuration, and a small source repository.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A [`GitCli`] that sees no global/system git configuration and no
    /// identity from the environment: `HOME` and `XDG_CONFIG_HOME` point into
    /// `home` (an empty directory owned by the test).
    pub(crate) fn isolated_git(home: &Path) -> GitCli {
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

    /// Runs any git command for test setup; panics on failure.
    pub(crate) fn git_ok(git: &GitCli, dir: &Path, args: &[&str]) -> String {
        let (sub, rest) = args.split_first().expect("a git subcommand");
        let rest: Vec<&OsStr> = rest.iter().map(OsStr::new).collect();
        git.run(dir, sub, &rest)
            .unwrap_or_else(|e| panic!("git {args:?} failed: {e}"))
    }

    /// Creates a normal repository at `dir` with one commit (a README) on
    /// branch `main`; returns the commit id.
    pub(crate) fn make_source_repo(git: &GitCli, dir: &Path) -> String {
        std::fs::create_dir_all(dir).unwrap();
        git_ok(git, dir, &["init", "--quiet"]);
        git_ok(git, dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        std::fs::write(dir.join("README.md"), "hello\n").unwrap();
        git.commit_all(dir, "initial commit")
            .unwrap()
            .expect("a first commit")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        git: GitCli,
        src: PathBuf,
        bare: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        std::fs::create_dir(&home).unwrap();
        let git = isolated_git(&home);
        let src = root.join("src");
        make_source_repo(&git, &src);
        let bare = root.join("rig.git");
        let mut lines = Vec::new();
        git.clone_bare(
            src.to_str().unwrap(),
            &bare,
            &CloneLimits::default(),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
        assert!(
            lines.iter().any(|l| l.contains("Cloning into")),
            "progress lines: {lines:?}"
        );
        Fixture {
            _dir: dir,
            root,
            git,
            src,
            bare,
        }
    }

    #[test]
    fn git_clone_worktree_commit_bundle_cycle() {
        let f = fixture();
        let (git, bare) = (&f.git, f.bare.as_path());
        assert_eq!(git.default_branch(bare).unwrap(), "main");
        assert!(git.branch_exists(bare, "main").unwrap());
        assert!(!git.branch_exists(bare, "polecat/toast").unwrap());
        let main = git.resolve(bare, "main").unwrap().expect("main resolves");
        assert_eq!(main.len(), 40);
        assert_eq!(git.resolve(bare, "nope").unwrap(), None);

        let wt = f.root.join("polecats/toast");
        git.worktree_add(bare, &wt, "polecat/toast", "main")
            .unwrap();
        assert!(git.branch_exists(bare, "polecat/toast").unwrap());
        assert!(!git.is_dirty(&wt).unwrap());
        assert_eq!(git.commit_all(&wt, "nothing").unwrap(), None);

        // Ignored files do not count, untracked ones do.
        std::fs::write(wt.join(".gitignore"), "*.log\n").unwrap();
        assert!(git.is_dirty(&wt).unwrap());
        git.commit_all(&wt, "ignore logs").unwrap().unwrap();
        std::fs::write(wt.join("build.log"), "noise").unwrap();
        assert!(!git.is_dirty(&wt).unwrap());
        std::fs::write(wt.join("new file.txt"), "x").unwrap();
        let st = git.status(&wt).unwrap();
        assert_eq!(
            st,
            vec![StatusEntry {
                code: "??".into(),
                path: "new file.txt".into()
            }]
        );

        let c2 = git
            .commit_all(&wt, "-- add a file; $(not a shell)\n\nbody")
            .unwrap()
            .expect("a commit");
        assert!(!git.is_dirty(&wt).unwrap());
        // Committed with the fallback identity: there is no other.
        let who = git_ok(git, &wt, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]);
        assert_eq!(
            who.trim(),
            "Gas Town <gt@gastown.invalid>|Gas Town <gt@gastown.invalid>"
        );

        let commits = git.commits_between(bare, "main", "polecat/toast").unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].id, c2);
        assert_eq!(commits[0].subject, "-- add a file; $(not a shell)");
        assert_eq!(commits[1].subject, "ignore logs");
        assert_eq!(
            git.count_commits_between(bare, "main", "polecat/toast")
                .unwrap(),
            2
        );
        assert_eq!(
            git.count_commits_between(bare, "polecat/toast", "main")
                .unwrap(),
            0
        );
        assert!(git.is_ancestor(bare, "main", "polecat/toast").unwrap());
        assert!(!git.is_ancestor(bare, "polecat/toast", "main").unwrap());

        let list = git.worktree_list(bare).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[0].bare);
        assert_eq!(list[1].branch.as_deref(), Some("polecat/toast"));
        assert_eq!(list[1].head.as_deref(), Some(c2.as_str()));
        assert_eq!(
            list[1].path.canonicalize().unwrap(),
            wt.canonicalize().unwrap()
        );

        assert_eq!(
            git.list_branches(bare, "polecat/*").unwrap(),
            vec!["polecat/toast".to_string()]
        );
        assert_eq!(
            git.list_branches(bare, "*").unwrap(),
            vec!["main".to_string()]
        );

        let bundle = f.root.join("toast.bundle");
        git.bundle_create(bare, &bundle, &["polecat/toast".to_string()])
            .unwrap();
        let heads = git_ok(
            git,
            &f.root,
            &["bundle", "list-heads", bundle.to_str().unwrap()],
        );
        assert_eq!(heads.trim(), format!("{c2} refs/heads/polecat/toast"));

        // A worktree with changes refuses to switch and to be removed.
        std::fs::write(wt.join("wip.txt"), "wip").unwrap();
        assert!(matches!(
            git.switch_branch(&wt, "polecat/toast-2", "main"),
            Err(Error::Refused(_))
        ));
        assert!(matches!(
            git.worktree_remove(bare, &wt, false),
            Err(Error::Command { .. })
        ));
        std::fs::remove_file(wt.join("wip.txt")).unwrap();
        git.switch_branch(&wt, "polecat/toast-2", "main").unwrap();
        assert_eq!(git.resolve(&wt, "HEAD").unwrap().unwrap(), main);

        // Branch deletion: unmerged needs force; checked-out is refused.
        assert!(git.delete_branch(bare, "polecat/toast", false).is_err());
        git.delete_branch(bare, "polecat/toast", true).unwrap();
        assert!(git.delete_branch(bare, "polecat/toast-2", true).is_err());

        std::fs::write(wt.join("wip.txt"), "wip").unwrap();
        git.worktree_remove(bare, &wt, true).unwrap();
        assert!(!wt.exists());
        assert_eq!(git.worktree_list(bare).unwrap().len(), 1);

        // The kept branch comes back in a new worktree, on the branch.
        git.worktree_add_existing(bare, &wt, "polecat/toast-2")
            .unwrap();
        let list = git.worktree_list(bare).unwrap();
        assert_eq!(list[1].branch.as_deref(), Some("polecat/toast-2"));
        assert!(!list[1].detached);
        git.worktree_remove(bare, &wt, false).unwrap();

        // Prune forgets a worktree whose directory vanished.
        let wt2 = f.root.join("polecats/gone");
        git.worktree_add(bare, &wt2, "polecat/gone", "main")
            .unwrap();
        std::fs::remove_dir_all(&wt2).unwrap();
        assert!(git.worktree_list(bare).unwrap()[1].prunable);
        git.worktree_prune(bare).unwrap();
        assert_eq!(git.worktree_list(bare).unwrap().len(), 1);
        assert!(f.src.exists());
    }

    #[test]
    fn git_batched_lookups_answer_like_single_ones() {
        let f = fixture();
        let (git, bare) = (&f.git, f.bare.as_path());
        let main = git.resolve(bare, "main").unwrap().unwrap();
        let wt = f.root.join("wt");
        git.worktree_add_detached(bare, &wt, &main).unwrap();
        // A detached HEAD is read from its file, a branch through git.
        assert_eq!(git.head_of(&wt).unwrap(), main);
        std::fs::write(wt.join("a.txt"), "a").unwrap();
        git.commit_all(&wt, "a").unwrap().unwrap();
        let a = git.head_of(&wt).unwrap();
        assert_eq!(a, git_ok(git, &wt, &["rev-parse", "HEAD"]).trim());
        assert_ne!(a, main);
        let tree = git_ok(git, &wt, &["rev-parse", "HEAD^{tree}"]);
        let missing = "1".repeat(40);
        let found = git
            .resolve_many(bare, &[&main, &missing, tree.trim(), &a])
            .unwrap();
        assert_eq!(found, vec![Some(main.clone()), None, None, Some(a.clone())]);

        assert!(git.all_ancestors(bare, &[&main, &a], &a).unwrap());
        assert!(!git.all_ancestors(bare, &[&main, &a], &main).unwrap());
        assert!(git.all_ancestors(bare, &[], &main).unwrap());

        // Branch deletion: all at once, or each with its own answer.
        for b in ["x", "y", "z"] {
            git.update_ref(bare, &format!("refs/heads/{b}"), &a, None)
                .unwrap();
        }
        let r = git.delete_refs(bare, &[("refs/heads/x", &a), ("refs/heads/y", &a)]);
        assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
        assert!(!git.branch_exists(bare, "x").unwrap());
        assert!(!git.branch_exists(bare, "y").unwrap());
        let r = git.delete_refs(
            bare,
            &[
                ("refs/heads/z", &main),
                ("refs/heads/y", &a),
                ("refs/heads/main", &main),
            ],
        );
        assert!(matches!(r[0], Err(Error::Refused(_))), "{r:?}");
        assert!(r[1].is_ok() && r[2].is_ok(), "{r:?}");
        assert!(git.branch_exists(bare, "z").unwrap());
        assert!(!git.branch_exists(bare, "main").unwrap());

        // Identity: looked up again unless a cache guard lives.
        let fallback = vec![
            "user.name=Gas Town".to_string(),
            "user.email=gt@gastown.invalid".to_string(),
        ];
        assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
        let guard = git.identity_cache();
        assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
        git_ok(git, &wt, &["config", "user.name", "Someone"]);
        assert_eq!(git.identity_overrides(&wt).unwrap(), fallback);
        drop(guard);
        assert_eq!(
            git.identity_overrides(&wt).unwrap(),
            vec!["user.email=gt@gastown.invalid".to_string()]
        );

        // Nothing in progress: reset without aborting; a merge in progress
        // is aborted.
        git.reset_detached(&wt, &main).unwrap();
        assert_eq!(git.head_of(&wt).unwrap(), main);
        std::fs::write(wt.join("a.txt"), "b").unwrap();
        git.commit_all(&wt, "b").unwrap().unwrap();
        let ident = git.identity_overrides(&wt).unwrap();
        let out = git.exec(Some(&wt), &ident, "merge", &[os(&a)]).unwrap();
        assert!(!out.status.success());
        let dir = worktree_git_dir(&wt).unwrap();
        assert!(dir.join("MERGE_HEAD").exists());
        git.reset_detached(&wt, &main).unwrap();
        assert!(!dir.join("MERGE_HEAD").exists());
        assert_eq!(git.head_of(&wt).unwrap(), main);
        assert!(!git.is_dirty(&wt).unwrap());
    }

    #[test]
    fn git_update_ref_is_a_compare_and_swap() {
        let f = fixture();
        let (git, bare) = (&f.git, f.bare.as_path());
        let main = git.resolve(bare, "main").unwrap().unwrap();
        let wt = f.root.join("wt");
        git.worktree_add(bare, &wt, "feature", "main").unwrap();
        std::fs::write(wt.join("f.txt"), "f").unwrap();
        let feat = git.commit_all(&wt, "feature").unwrap().unwrap();

        // Wrong old value: refused, ref untouched.
        let err = git
            .update_ref(bare, "refs/heads/main", &feat, Some(&feat))
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err:?}");
        assert_eq!(git.resolve(bare, "main").unwrap().unwrap(), main);
        // "Must not exist" on an existing ref: refused.
        let err = git
            .update_ref(bare, "refs/heads/main", &feat, Some(ZERO_OID))
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err:?}");

        git.update_ref(bare, "refs/heads/main", &feat, Some(&main))
            .unwrap();
        assert_eq!(git.resolve(bare, "main").unwrap().unwrap(), feat);
        git.update_ref(bare, "refs/gt/merged", &feat, Some(ZERO_OID))
            .unwrap();
        git.update_ref(bare, "refs/gt/merged", &main, None).unwrap();
        assert_eq!(git.resolve(bare, "refs/gt/merged").unwrap().unwrap(), main);
        assert!(git
            .update_ref(bare, "refs/heads/main", "not-an-oid", None)
            .is_err());
    }

    #[test]
    fn git_commit_keeps_a_configured_identity() {
        let f = fixture();
        let wt = f.root.join("wt");
        f.git.worktree_add(&f.bare, &wt, "mine", "main").unwrap();
        git_ok(&f.git, &wt, &["config", "user.name", "Ada"]);
        git_ok(&f.git, &wt, &["config", "user.email", "ada@example.org"]);
        std::fs::write(wt.join("a"), "a").unwrap();
        f.git.commit_all(&wt, "mine").unwrap().unwrap();
        let who = git_ok(&f.git, &wt, &["log", "-1", "--format=%an <%ae>"]);
        assert_eq!(who.trim(), "Ada <ada@example.org>");
    }

    #[test]
    fn git_commands_pin_the_code_running_settings() {
        let dir = tempfile::tempdir().unwrap();
        let args = |git: &GitCli| -> Vec<String> {
            git.command(Some(dir.path()), &[], "status")
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let envs = |git: &GitCli| -> Vec<(String, Option<String>)> {
            git.command(None, &[], "status")
                .get_envs()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.map(|v| v.to_string_lossy().into_owned()),
                    )
                })
                .collect()
        };
        let git = isolated_git(dir.path())
            .env_remove("GIT_SSH_COMMAND")
            .env("GIT_SSH", "/opt/my ssh")
            .env_remove("GIT_EDITOR");
        let a = args(&git);
        for pin in [
            "core.hooksPath=/dev/null",
            "core.fsmonitor=false",
            "protocol.ext.allow=never",
            "protocol.fd.allow=never",
            "credential.helper=",
            "core.sshCommand='/opt/my ssh'",
        ] {
            assert!(a.iter().any(|x| x == pin), "{pin} not in {a:?}");
        }
        // Pins come before the subcommand, after -C.
        let sub = a.iter().position(|x| x == "status").unwrap();
        assert!(
            a.iter()
                .position(|x| x == "core.hooksPath=/dev/null")
                .unwrap()
                < sub
        );
        let e = envs(&git);
        assert!(
            e.contains(&("GIT_EDITOR".into(), Some(":".into()))),
            "{e:?}"
        );
        assert!(e.contains(&("GIT_PROTOCOL_FROM_USER".into(), Some("0".into()))));
        // gt's own environment wins over the pins.
        let git = isolated_git(dir.path())
            .env("GIT_SSH_COMMAND", "ssh -F /mine")
            .env("GIT_EDITOR", "vi");
        assert!(!args(&git).iter().any(|x| x.starts_with("core.sshCommand=")));
        assert!(envs(&git).contains(&("GIT_EDITOR".into(), Some("vi".into()))));
    }

    #[test]
    fn git_runs_only_the_users_own_credential_helpers() {
        let f = fixture();
        let home = f.root.join("home");
        let mine = f.root.join("mine");
        let theirs = f.root.join("theirs");
        std::fs::write(
            home.join(".gitconfig"),
            format!(
                "[credential]\n\thelper = \"!f() {{ echo mine >> '{}'; }}; f\"\n[core]\n\tsshCommand = ssh -o BatchMode=yes\n",
                mine.display()
            ),
        )
        .unwrap();
        // What an agent writes into the shared repository config.
        let helper = format!("!f() {{ echo theirs >> '{}'; }}; f", theirs.display());
        git_ok(&f.git, &f.bare, &["config", "credential.helper", &helper]);
        let git = isolated_git(&home);
        assert!(
            git.trusted()
                .iter()
                .any(|c| c == "core.sshcommand=ssh -o BatchMode=yes"),
            "{:?}",
            git.trusted()
        );
        let input = "protocol=https\nhost=example.invalid\n\n";
        let _ = git.exec_input(&f.bare, "credential", &[os("fill")], input);
        assert!(mine.exists(), "the user's helper runs");
        assert!(!theirs.exists(), "the repository's helper never runs");
    }

    #[test]
    fn git_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let git = isolated_git(dir.path());
        let missing = dir.path().join("no-such-repo");
        let err = git
            .clone_bare(
                missing.to_str().unwrap(),
                &dir.path().join("x.git"),
                &CloneLimits::default(),
                &mut |_| {},
            )
            .unwrap_err();
        match &err {
            Error::Command { program, message } => {
                assert_eq!(program, "git clone");
                assert!(message.contains("fatal:"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // An option-looking source is a path after `--`, never an option.
        let err = git
            .clone_bare(
                "--upload-pack=touch pwned",
                &dir.path().join("y.git"),
                &CloneLimits::default(),
                &mut |_| {},
            )
            .unwrap_err();
        assert!(matches!(err, Error::Command { .. }), "{err:?}");
        assert!(!dir.path().join("pwned").exists());

        let err = git.default_branch(&missing).unwrap_err();
        assert!(matches!(err, Error::Command { .. }), "{err:?}");

        let none = GitCli::new().with_program(dir.path().join("no-git-here"));
        let err = none.default_branch(dir.path()).unwrap_err();
        match err {
            Error::Environment(m) => assert!(m.starts_with("git is not installed"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }

        assert!(matches!(
            git.branch_exists(dir.path(), "-x"),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            git.resolve(dir.path(), "--all"),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn git_branch_name_validation() {
        for ok in ["main", "polecat/toast", "a-b_c.d/e1", "v1.2"] {
            validate_branch_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "-x",
            "a..b",
            "a//b",
            "/a",
            "a/",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
            "HEAD",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "a@{1}",
            "ü",
            "a\u{7f}",
        ] {
            assert!(validate_branch_name(bad).is_err(), "{bad:?} accepted");
        }
        validate_ref_name("refs/heads/main").unwrap();
        assert!(validate_ref_name("heads/main").is_err());
        assert!(validate_ref_name("refs/").is_err());
        validate_rev("main~2").unwrap();
        validate_rev("HEAD^{commit}").unwrap();
        for bad in ["", "-n", "a..b", "a b", "a\nb"] {
            assert!(validate_rev(bad).is_err(), "{bad:?} accepted");
        }
        validate_branch_pattern("polecat/*").unwrap();
        validate_branch_pattern("polecat/").unwrap();
        assert!(validate_branch_pattern("-*").is_err());
    }

    #[test]
    fn git_parsers() {
        let list = "worktree /r.git\nbare\n\nworktree \"/a b/\\\"q\\\"\\303\\251\"\nHEAD abc\nbranch refs/heads/polecat/x\nlocked reason\n\nworktree /d\nHEAD def\ndetached\nprunable gitdir file points to non-existent location\n\n";
        let wts = parse_worktree_list(list);
        assert_eq!(wts.len(), 3);
        assert!(wts[0].bare && wts[0].head.is_none());
        assert_eq!(wts[1].path, PathBuf::from("/a b/\"q\"é"));
        assert_eq!(wts[1].branch.as_deref(), Some("polecat/x"));
        assert!(wts[1].locked);
        assert!(wts[2].detached && wts[2].prunable && wts[2].branch.is_none());

        let st = parse_status_z(" M a\0R  new\0old\0?? d/\0");
        let paths: Vec<_> = st
            .iter()
            .map(|e| (e.code.as_str(), e.path.as_str()))
            .collect();
        assert_eq!(paths, vec![(" M", "a"), ("R ", "new"), ("??", "d/")]);
    }
}
