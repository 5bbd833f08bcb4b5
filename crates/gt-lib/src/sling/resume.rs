//! `gt resume`, `gt up` resuming what `gt down --all` stopped, and adopting
//! sessions gt did not record.

use super::*;

/// `gt resume BEAD`: a new session on the same polecat, worktree and branch
/// for a bead whose session ended (or died) without `gt done`.
pub fn resume(ws: &Workspace, bead: &str, agent: Option<&str>, actor: &str) -> Result<Slung> {
    let bead = ws.store.get_bead(bead)?;
    let last = ws
        .store
        .list_sessions(&SessionFilter {
            bead: Some(&bead.id),
            limit: Some(1),
            ..Default::default()
        })?
        .pop()
        .ok_or_else(|| Error::refused(format!("{} has never been slung; use gt sling", bead.id)))?;
    if last.end_reason.as_deref() == Some(end_reason::DONE) {
        return Err(Error::refused(format!("{} already ran gt done", bead.id)));
    }
    let rig = ws.store.get_rig(&last.rig)?;
    let polecat = ws.store.get_polecat(&last.rig, &last.polecat)?;
    if polecat.bead.as_deref().is_some_and(|b| b != bead.id) {
        return Err(Error::refused(format!(
            "polecat {} has moved on to other work; sling {} again instead",
            polecat.address(),
            bead.id
        )));
    }
    let runtime = match agent {
        Some(a) => ws.town.config.runtime(a)?,
        None => ws.town.config.runtime(&last.runtime)?,
    };
    sling_one(
        ws,
        &rig,
        &polecat,
        &bead,
        &runtime,
        false,
        true,
        actor,
        Fresh::default(),
        None,
    )
}

/// A bead `gt up` could not resume, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotResumed {
    pub agent: String,
    pub bead: String,
    pub error: String,
}

/// What [`resume_stopped`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumedStopped {
    pub resumed: Vec<Slung>,
    pub not_resumed: Vec<NotResumed>,
}

/// `gt up`: resumes every agent that `gt down --all` stopped — a polecat
/// still holding the bead of its last session, which ended `stopped`.
pub fn resume_stopped(ws: &Workspace, actor: &str) -> Result<ResumedStopped> {
    let mut out = ResumedStopped::default();
    // Several `gt up` at once resume each agent once: the second sees the
    // first one's new session.
    let _lock = sling_lock(ws)?;
    for p in ws.store.list_polecats(None)? {
        let Some(bead) = p.bead.clone() else { continue };
        if p.state != PolecatState::Working {
            continue;
        }
        let last = ws.store.last_session(&p.rig, &p.name)?;
        let stopped = last.is_some_and(|s| {
            s.bead == bead && s.end_reason.as_deref() == Some(end_reason::STOPPED)
        });
        if !stopped {
            continue;
        }
        match resume(ws, &bead, None, actor) {
            Ok(s) => out.resumed.push(s),
            Err(e) => out.not_resumed.push(NotResumed {
                agent: p.address(),
                bead,
                error: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// How long a live tmux session of a recorded session that was never marked
/// running is left to the `gt sling` that started it before the deacon
/// adopts it.
pub const ADOPT_AFTER_SECS: i64 = 3;

/// A patrol step: open sessions whose agent runs in tmux but whose start
/// was never recorded (the `gt sling` that started them was killed between
/// starting tmux and recording the start) are adopted — marked running,
/// the bead `in_progress` — so the bead is not `hooked` for good and the
/// usual watch (stalls, exits, restarts) applies. One `deacon.adopted`
/// action each.
pub fn adopt_unrecorded(ws: &Workspace) -> Result<Vec<crate::deacon::Action>> {
    use crate::store::deacon::DeaconStore;
    let open = ws.open_sessions_here(None)?;
    let mut out = Vec::new();
    if open.iter().all(|s| s.running_at.is_some()) {
        return Ok(out);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let tmux = ws.host.tmux.list_sessions()?;
    for s in open.iter().filter(|s| s.running_at.is_none()) {
        let Some(info) = tmux.iter().find(|t| t.name == s.tmux_session) else {
            continue;
        };
        if info.pane_dead || now - info.created < ADOPT_AFTER_SECS {
            continue;
        }
        // Re-read: the sling may have recorded it meanwhile.
        if ws.store.get_session(s.id)?.running_at.is_some() {
            continue;
        }
        ws.store.mark_running(s.id, crate::deacon::ACTOR)?;
        let summary = format!(
            "adopted {} on {}: its agent runs in {} but its start was never recorded",
            s.agent(),
            s.bead,
            s.tmux_session
        );
        ws.store.record_action(
            &format!("adopt:{}", s.id),
            crate::event::NewEvent::new(crate::deacon::kind::ADOPTED, summary.clone())
                .rig(&s.rig)
                .bead(&s.bead)
                .payload(serde_json::json!({ "session": s.id, "tmux": s.tmux_session })),
            crate::deacon::ACTOR,
        )?;
        out.push(crate::deacon::Action {
            kind: crate::deacon::kind::ADOPTED.to_string(),
            agent: Some(s.agent()),
            bead: Some(s.bead.clone()),
            summary,
        });
    }
    Ok(out)
}
