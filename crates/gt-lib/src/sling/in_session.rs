//! What an agent runs inside its session: `gt hook`, `gt prime`, `gt done`.

use super::*;

/// The caller's polecat: `GT_AGENT`, else the worktree containing `cwd`.
pub fn caller(ws: &Workspace, cwd: &Path) -> Result<Polecat> {
    if let Some(agent) = ws.caller.agent() {
        let (rig, pc) = parse_address(agent)?;
        return ws.store.get_polecat(&rig, &pc);
    }
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let (rig, pc) = ws.polecat_at(&cwd).ok_or_else(|| {
        Error::refused(
            "not inside a polecat: run this in an agent session (GT_AGENT) or its worktree",
        )
    })?;
    ws.store.get_polecat(&rig, &pc)
}

/// What `gt hook` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Hook {
    pub agent: String,
    pub rig: String,
    pub polecat: String,
    pub bead: Bead,
    pub branch: String,
    pub base_commit: String,
    pub session: String,
    pub session_id: i64,
    pub worktree: PathBuf,
}

/// The caller's hooked bead and session.
pub fn hook(ws: &Workspace, cwd: &Path) -> Result<Hook> {
    hook_of(ws, caller(ws, cwd)?)
}

/// The hooked bead and session of polecat `p`.
pub fn hook_of(ws: &Workspace, p: Polecat) -> Result<Hook> {
    let bead_id = p
        .bead
        .clone()
        .ok_or_else(|| Error::not_found("hooked bead for", p.address()))?;
    let s = ws
        .store
        .list_sessions(&SessionFilter {
            rig: Some(&p.rig),
            polecat: Some(&p.name),
            bead: Some(&bead_id),
            limit: Some(1),
            ..Default::default()
        })?
        .pop()
        .ok_or_else(|| Error::not_found("session for", p.address()))?;
    Ok(Hook {
        agent: p.address(),
        rig: p.rig.clone(),
        polecat: p.name.clone(),
        bead: ws.store.get_bead(&bead_id)?,
        branch: s.branch.clone(),
        base_commit: s.base_commit.clone(),
        session: s.tmux_session.clone(),
        session_id: s.id,
        worktree: ws.worktree(&p.rig, &p.name),
    })
}

/// The Markdown briefing `gt prime` prints: short, since agents pay per token.
pub fn prime(ws: &Workspace, cwd: &Path) -> Result<String> {
    let h = hook(ws, cwd)?;
    let d = ws.store.bead_details(&h.bead.id)?;
    let mut md = format!(
        "# You are {agent} (Gas Town polecat)\n\n## Your bead: {id} — {title}\n",
        agent = h.agent,
        id = h.bead.id,
        title = h.bead.title
    );
    if !h.bead.description.trim().is_empty() {
        md.push_str(&format!("\n{}\n", h.bead.description.trim()));
    }
    if let Some(ac) = h
        .bead
        .metadata
        .get("acceptance_criteria")
        .and_then(|v| v.as_str())
    {
        md.push_str(&format!("\n### Acceptance\n{}\n", ac.trim()));
    }
    md.push_str(&crate::formula::prime_section(ws, &d)?);
    let notes: Vec<_> = d.comments.iter().rev().take(3).collect();
    if !notes.is_empty() {
        md.push_str("\n### Notes\n");
        for c in notes.iter().rev() {
            md.push_str(&format!("- {}: {}\n", c.author, c.text.trim()));
        }
    }
    md.push_str(&earlier_work(ws, &h));
    md.push_str(&format!(
        "\nBranch `{}` (cut from `{}`), worktree `{}`.\n\n## Rules\n\
         - Work only in this worktree; commit your work with clear messages.\n\
         - When finished run `gt done` (`--wip` commits leftovers; `--no-changes` if no code was needed).\n\
         - Read `gt mail inbox` for messages.\n\
         - Blocked? `gt escalate \"why\"` — or `gt done --status escalated -m \"why\"`.\n\
         - `gt` is `{}` (also in `$GT_BIN`): call it by that path where `gt` is not on PATH.\n",
        h.branch,
        &h.base_commit[..h.base_commit.len().min(12)],
        h.worktree.display(),
        ws.host.gt_exe.display()
    ));
    md.push_str(&crate::mail::prime_section(ws, &h.agent)?);
    Ok(md)
}

/// The most commits [`earlier_work`] lists.
const EARLIER_COMMITS: usize = 10;

/// The briefing's section on commits already on the branch beyond its base
/// (an earlier session's, or the work the deacon saved when one died), so
/// a resumed agent continues rather than starts over; empty when there are
/// none or git cannot tell.
fn earlier_work(ws: &Workspace, h: &Hook) -> String {
    let Ok(commits) = ws
        .host
        .git
        .commits_between(&h.worktree, &h.base_commit, "HEAD")
    else {
        return String::new();
    };
    if commits.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n### Already on your branch\n{} commit(s) beyond its base, newest first (continue from them):\n",
        commits.len()
    );
    for c in commits.iter().take(EARLIER_COMMITS) {
        let subject: String = c
            .subject
            .chars()
            .take(120)
            .map(|ch| if ch.is_control() { ' ' } else { ch })
            .collect();
        md.push_str(&format!("- {} {}\n", &c.id[..c.id.len().min(10)], subject));
    }
    if commits.len() > EARLIER_COMMITS {
        md.push_str(&format!("- … {} more\n", commits.len() - EARLIER_COMMITS));
    }
    md
}

#[derive(Debug, Clone, Default)]
pub struct DoneArgs {
    pub status: Option<DoneStatus>,
    pub note: Option<String>,
    pub wip: bool,
    pub no_changes: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoneReport {
    pub agent: String,
    pub bead: String,
    pub status: DoneStatus,
    pub branch: String,
    pub head_commit: String,
    pub commits: usize,
    pub wip_commit: Option<String>,
    #[serde(flatten)]
    pub outcome: DoneOutcome,
}

/// `gt done`, run inside the agent's session or worktree.
pub fn done(ws: &Workspace, cwd: &Path, args: &DoneArgs, actor: &str) -> Result<DoneReport> {
    if let Some(n) = &args.note {
        crate::bead::validate_comment(n)?;
    }
    done_for(ws, caller(ws, cwd)?, args, actor)
}

/// `gt done` for polecat `p`: the same checks and effects, whoever runs it
/// (the agent itself, or the deacon on behalf of a runtime that cannot run
/// `gt done`; see `deacon::completion`).
pub fn done_for(ws: &Workspace, p: Polecat, args: &DoneArgs, actor: &str) -> Result<DoneReport> {
    let status = args.status.unwrap_or(DoneStatus::Completed);
    if let Some(n) = &args.note {
        crate::bead::validate_comment(n)?;
    }
    let h = hook_of(ws, p)?;
    let session = ws.store.get_session(h.session_id)?;
    if !session.is_open() {
        return Err(Error::refused(format!(
            "{} has no open session on {}",
            h.agent, h.bead.id
        )));
    }
    let wt = &h.worktree;
    let mut wip_commit = None;
    if own_worktree_dirty(ws, wt)? {
        if !args.wip {
            return Err(Error::refused(
                "uncommitted changes in the worktree: commit them, or run gt done --wip to commit them as they are",
            ));
        }
        wip_commit = ws
            .host
            .git
            .commit_all(wt, &format!("WIP: {} ({})", h.bead.title, h.bead.id))?;
    }
    let repo = ws.repo_dir(&h.rig);
    let head = ws
        .host
        .git
        .resolve(wt, "HEAD")?
        .ok_or_else(|| Error::refused("the worktree has no HEAD commit"))?;
    let branch_tip = ws
        .host
        .git
        .resolve(&repo, &format!("refs/heads/{}", h.branch))?;
    if branch_tip.as_deref() != Some(head.as_str()) {
        return Err(Error::refused(format!(
            "HEAD is not the tip of {}: commit on that branch (git switch {}) and try again",
            h.branch, h.branch
        )));
    }
    let commits = ws
        .host
        .git
        .count_commits_between(&repo, &h.base_commit, &head)?;
    if status == DoneStatus::Completed && commits == 0 && !args.no_changes {
        return Err(Error::refused(format!(
            "no commits on {} beyond its base: commit your work, or run gt done --no-changes if none was needed",
            h.branch
        )));
    }
    // In a town of several hosts the refinery may run on another one: it
    // lands the branch from the rig's upstream, so the branch goes there
    // first (a failure refuses, nothing is recorded, `gt done` again).
    if status == DoneStatus::Completed && commits > 0 && crate::hosts::shares_code(ws)? {
        ws.host.git.push(&repo, &head, &h.branch).map_err(|e| {
            Error::refused(format!(
                "cannot push {} to the rig's upstream, where other hosts land it from: {}; run gt done again once it is reachable",
                h.branch,
                crate::deacon::error_line(&e)
            ))
        })?;
    }
    // Usage so far, from the runtime's own files (best effort).
    crate::costs::record_session_end_quietly(ws, &session, actor);
    let outcome = ws.store.finish(
        &DoneRequest {
            session: session.id,
            status,
            note: args.note.as_deref(),
            head_commit: &head,
            no_changes: status == DoneStatus::Completed && commits == 0,
        },
        actor,
    )?;
    // End the session after this command has returned to the agent.
    let _ = ws.host.tmux.kill_session_later(&session.tmux_session, 1);
    Ok(DoneReport {
        agent: h.agent,
        bead: h.bead.id,
        status,
        branch: h.branch,
        head_commit: head,
        commits,
        wip_commit,
        outcome,
    })
}
