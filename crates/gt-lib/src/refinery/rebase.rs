//! `gt rebase`: a polecat rebases its branch on the rig's current target.

use super::*;

/// What `gt rebase` did.
#[derive(Debug, Clone, Serialize)]
pub struct RebaseReport {
    pub agent: String,
    pub branch: String,
    pub onto: String,
    pub old_head: String,
    pub head: String,
    /// Commits of the branch beyond the target after the rebase.
    pub commits: usize,
}

/// `gt rebase`, run inside a polecat: rebases its branch onto the current tip
/// of the rig's target branch. On a conflict the rebase is aborted (nothing
/// changes) and the error lists the files. `prefer_mine` resolves
/// conflicting hunks in favour of the branch's own changes.
pub fn rebase_polecat(ws: &Workspace, cwd: &Path, prefer_mine: bool) -> Result<RebaseReport> {
    let h = crate::sling::hook(ws, cwd)?;
    let rig = ws.store.get_rig(&h.rig)?;
    let repo = ws.repo_dir(&rig.name);
    let wt = &h.worktree;
    if ws.host.git.is_dirty(wt)? {
        return Err(Error::refused(
            "uncommitted changes in the worktree: commit them first, then gt rebase",
        ));
    }
    let head = ws
        .host
        .git
        .resolve(wt, "HEAD")?
        .ok_or_else(|| Error::refused("the worktree has no HEAD commit"))?;
    let tip = ws
        .host
        .git
        .resolve(&repo, &format!("refs/heads/{}", h.branch))?;
    if tip.as_deref() != Some(head.as_str()) {
        return Err(Error::refused(format!(
            "HEAD is not the tip of {}: switch to it (git switch {}) first",
            h.branch, h.branch
        )));
    }
    let onto = ws
        .host
        .git
        .resolve(&repo, &format!("refs/heads/{}", rig.branch))?
        .ok_or_else(|| {
            Error::Environment(format!("rig {} has no branch {}", rig.name, rig.branch))
        })?;
    match ws.host.git.rebase(wt, &onto, None, prefer_mine)? {
        Integration::Done(new) => Ok(RebaseReport {
            agent: h.agent,
            commits: ws.host.git.count_commits_between(&repo, &onto, &new)?,
            branch: h.branch,
            onto,
            old_head: head,
            head: new,
        }),
        Integration::Conflict(files) => Err(Error::refused(format!(
            "rebasing {} onto {} ({}) conflicts in: {}; nothing was changed. Resolve by hand: \
             git rebase {} (or gt rebase --prefer-mine to keep your side of conflicting lines)",
            h.branch,
            rig.branch,
            short(&onto),
            files.join(", "),
            short(&onto)
        ))),
    }
}
