//! Polecats: persistent worker identities in a rig, each with its own worktree.
//! The record, its state, names and addresses live in `gt_core::polecat`;
//! this module adds what needs the workspace (details, removal).

use serde::Serialize;

use crate::error::{Error, Result};

pub use gt_core::polecat::*;

/// What `gt polecat show` prints: the polecat and its session history.
#[derive(Debug, Clone, Serialize)]
pub struct PolecatDetails {
    #[serde(flatten)]
    pub polecat: Polecat,
    pub worktree: std::path::PathBuf,
    pub sessions: Vec<crate::session::Session>,
    /// Beads it finished with `gt done`.
    pub completed: Vec<String>,
}

pub fn details(ws: &crate::workspace::Workspace, rig: &str, name: &str) -> Result<PolecatDetails> {
    use crate::store::{RigStore, SessionFilter, WorkStore};
    let polecat = ws.store.get_polecat(rig, name)?;
    let sessions = ws.store.list_sessions(&SessionFilter {
        rig: Some(rig),
        polecat: Some(name),
        ..Default::default()
    })?;
    let mut completed: Vec<String> = sessions
        .iter()
        .filter(|s| s.end_reason.as_deref() == Some(crate::session::end_reason::DONE))
        .map(|s| s.bead.clone())
        .collect();
    completed.dedup();
    Ok(PolecatDetails {
        worktree: ws.worktree(rig, name),
        polecat,
        sessions,
        completed,
    })
}

/// Removes a polecat and its worktree. Refuses while it is working, its
/// worktree has uncommitted changes, or its branches hold commits not on the
/// rig's branch — unless `force`, which first commits uncommitted changes
/// (WIP) and always keeps its branches in the rig repository.
pub fn remove(
    ws: &crate::workspace::Workspace,
    rig: &str,
    name: &str,
    force: bool,
    actor: &str,
) -> Result<Vec<String>> {
    use crate::store::RigStore;
    let r = ws.store.get_rig(rig)?;
    let p = ws.store.get_polecat(rig, name)?;
    let _lock = ws.lock_rig(rig)?;
    let wt = ws.worktree(rig, name);
    let repo = ws.repo_dir(rig);
    let has_wt = wt.join(".git").exists();
    let dirty = has_wt && crate::sling::own_worktree_dirty(ws, &wt)?;
    let mut unmerged = Vec::new();
    for b in ws
        .host
        .git
        .list_branches(&repo, &format!("polecat/{name}/*"))?
    {
        if ws.host.git.count_commits_between(
            &repo,
            &format!("refs/heads/{}", r.branch),
            &format!("refs/heads/{b}"),
        )? > 0
        {
            unmerged.push(b);
        }
    }
    if !force {
        if p.state == PolecatState::Working {
            return Err(Error::refused(format!(
                "{} is working on {}; use --force to stop it (its work is saved)",
                p.address(),
                p.bead.as_deref().unwrap_or("a bead")
            )));
        }
        if dirty || !unmerged.is_empty() {
            return Err(Error::refused(format!(
                "{} holds work{}{}; use --force to save it and remove the polecat",
                p.address(),
                if dirty { ": uncommitted changes" } else { "" },
                if unmerged.is_empty() {
                    String::new()
                } else {
                    format!(", unmerged branches {}", unmerged.join(", "))
                }
            )));
        }
    }
    let _ = ws
        .host
        .tmux
        .kill_session(&crate::workspace::Workspace::session_name(rig, name));
    if dirty {
        ws.host.git.commit_all(
            &wt,
            &format!("WIP: saved by gt before removing polecat {name}"),
        )?;
    }
    if has_wt {
        ws.host.git.worktree_remove(&repo, &wt, true)?;
    } else if wt.exists() {
        // Not a worktree: leave the directory alone.
    }
    ws.host.git.worktree_prune(&repo)?;
    ws.store.remove_polecat(rig, name, actor)?;
    Ok(unmerged)
}
