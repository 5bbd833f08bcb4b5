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

    /// `user.name` and `user.email` as git resolves them in `wt` (every
    /// config level), each `(key, value)` only when set: the identity an
    /// agent's own commits there get.
    fn user_identity(&self, _wt: &Path) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
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

    /// A commit of everything in worktree `wt` as it is — tracked and
    /// untracked files, `.gitignore` respected — whose parent is `HEAD`,
    /// made without touching the worktree, its index or its branch (a
    /// private index). `HEAD` itself when nothing differs from it.
    fn checkpoint(&self, _wt: &Path, _message: &str) -> Result<String> {
        Err(Error::Internal("checkpoint is not supported".into()))
    }

    /// Pushes `commit` to the full ref `refname` of remote `origin`, forced
    /// (for refs gt owns alone, such as `refs/gt/checkpoints/<bead>`).
    fn push_ref_forced(&self, _repo: &Path, _commit: &str, _refname: &str) -> Result<()> {
        Err(Error::Internal("push is not supported".into()))
    }

    /// Deletes full refs of remote `origin` in one push, each only if the
    /// upstream still has it at the commit given with it (`None`: at any
    /// commit). Refs the upstream lacks are skipped. Returns the refs deleted (sorted);
    /// one refused (moved) does not keep the others.
    fn delete_remote_refs(
        &self,
        _repo: &Path,
        _refs: &[(&str, Option<&str>)],
    ) -> Result<Vec<String>> {
        Err(Error::Internal("push is not supported".into()))
    }

    /// Fetches the full ref `refname` of remote `origin` into the same ref
    /// here (forced) and returns it; `None` when `origin` has no such ref.
    /// Gives up after `timeout`.
    fn fetch_ref(
        &self,
        _repo: &Path,
        _refname: &str,
        _timeout: std::time::Duration,
    ) -> Result<Option<String>> {
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

mod cli;
mod porcelain;
mod refname;

pub(crate) use cli::short_message;
pub use cli::{check_own_worktree, GitCli, PINNED_CONFIG};
pub use refname::{validate_branch_name, validate_ref_name, validate_rev};
// The split files share their helpers through the parent (`pub(super)`).
#[cfg(test)]
use cli::*;
use porcelain::*;
use refname::*;

/// Helpers for tests of this and other modules: a git with no user or
/// system configuration, and a small source repository.
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
