//! Checkpoints (issue 13 §3): in a town of several hosts, each patrol
//! commits the work of every agent running on this host — committed or not —
//! to a private ref of its bead, `refs/gt/checkpoints/<bead>`, and pushes it
//! to the rig's upstream. The agent's worktree, index and branch are not
//! touched. When the bead starts again on another host (its host died), its
//! new branch starts from that checkpoint, so at most one patrol interval of
//! work is lost.

use crate::error::Result;
use crate::session::Session;
use crate::workspace::Workspace;

/// The private ref of a bead's checkpoint, here and on the upstream.
pub fn refname(bead: &str) -> String {
    format!("refs/gt/checkpoints/{bead}")
}

/// How long fetching a checkpoint may take before a sling goes on without.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Checkpoints session `s` (running on this host): `Some(commit)` when a
/// new checkpoint was pushed, `None` when nothing changed since the last.
pub fn take(ws: &Workspace, s: &Session) -> Result<Option<String>> {
    let wt = ws.worktree(&s.rig, &s.polecat);
    if !wt.join(".git").exists() {
        return Ok(None);
    }
    let repo = ws.repo_dir(&s.rig);
    let name = refname(&s.bead);
    let message = format!(
        "gt checkpoint of {} ({}) on host {}",
        s.bead,
        s.agent(),
        ws.town.host_name()
    );
    let commit = ws.host.git.checkpoint(&wt, &message)?;
    let last = ws.host.git.resolve(&repo, &name)?;
    if last.as_deref() == Some(commit.as_str()) {
        return Ok(None);
    }
    ws.host.git.push_ref_forced(&repo, &commit, &name)?;
    ws.host.git.update_ref(&repo, &name, &commit, None)?;
    Ok(Some(commit))
}

/// The checkpoint of `bead` on the rig's upstream, fetched into this
/// host's clone; `None` when there is none (or the upstream cannot be
/// reached: the bead then starts from the target, as on one host).
pub fn fetch(ws: &Workspace, rig: &str, bead: &str) -> Option<String> {
    let repo = ws.repo_dir(rig);
    match ws.host.git.fetch_ref(&repo, &refname(bead), FETCH_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%e, bead, "cannot fetch the checkpoint");
            None
        }
    }
}

/// Where a new branch for `bead` starts in a town of several hosts: its
/// checkpoint when one was pushed (noted on the bead), else `base`.
pub fn start_point(ws: &Workspace, rig: &str, bead: &str, base: &str, actor: &str) -> String {
    let shared = crate::hosts::shares_code(ws).unwrap_or(false);
    let Some(c) = shared.then(|| fetch(ws, rig, bead)).flatten() else {
        return base.to_string();
    };
    let note = format!(
        "resumed from checkpoint {} (the work of its last session, saved by its host)",
        &c[..c.len().min(12)]
    );
    if let Err(e) = crate::store::BeadStore::add_comment(&ws.store, bead, actor, &note, actor) {
        tracing::warn!(%e, bead, "cannot note the checkpoint");
    }
    c
}
