//! Rules for sessions: hook a bead to a polecat, mark it running, release
//! it, undo a failed sling, and finish (`gt done`).

use serde_json::json;

use super::PolecatChange;
use crate::bead::{Bead, Status};
use crate::error::{Error, Result};
use crate::event::{kind, NewEvent};
use crate::merge::mr_status;
use crate::polecat::{Polecat, PolecatState};
use crate::session::{end_reason, Session};
use crate::work::{DoneRequest, DoneStatus, HookRequest, SlingUndo};

/// The `session.ended` event of session `s`, ended for `reason`.
pub fn session_ended(s: &Session, reason: &str) -> NewEvent {
    NewEvent::new(
        kind::SESSION_ENDED,
        format!("session of {} on {} ended: {reason}", s.agent(), s.bead),
    )
    .rig(&s.rig)
    .bead(&s.bead)
    .payload(json!({ "session": s.id, "reason": reason, "agent": s.agent() }))
}

/// Gives `bead` back for others: `open` again when it was hooked, in
/// progress or queued (other statuses stay), unassigned; its rig, polecat
/// and branch metadata are kept.
pub fn reopen_for_others(bead: &mut Bead, now: &str) {
    if matches!(
        bead.status,
        Status::Hooked | Status::InProgress | Status::Queued
    ) {
        bead.set_status(Status::Open, now);
    }
    bead.assignee = None;
    bead.updated_at = now.to_string();
}

/// The `bead.released` event: `bead`, held by session `s`, given back for
/// `reason`, with the `note` added to it if any.
pub fn bead_released(s: &Session, bead: &str, reason: &str, note: Option<&str>) -> NewEvent {
    NewEvent::new(
        kind::BEAD_RELEASED,
        format!("{bead} released by {}: {reason}", s.agent()),
    )
    .rig(&s.rig)
    .bead(bead)
    .payload(json!({ "session": s.id, "reason": reason, "note": note }))
}

/// When polecat `p` holds `bead`: it goes idle (releasing or undoing the
/// bead's session frees it). `None`: it holds something else, left alone.
pub fn free_polecat(p: &Polecat, bead: &str) -> Option<PolecatChange> {
    (p.bead.as_deref() == Some(bead)).then(|| PolecatChange::idle(&p.rig, &p.name))
}

/// The open session of a bead that hooking it ends first.
#[derive(Debug, Clone, PartialEq)]
pub struct Supersede {
    pub session: Session,
    /// Always [`end_reason::SUPERSEDED`].
    pub reason: &'static str,
    /// Its polecat goes idle when it is not the one being hooked.
    pub polecat: Option<PolecatChange>,
}

/// Hooking, first step: refuses a closed `bead` or one in the merge queue,
/// and one with an `open` session that `req` does not supersede; else what
/// to end first, if anything.
pub fn hook_takeover(
    bead: &Bead,
    open: Option<&Session>,
    req: &HookRequest<'_>,
) -> Result<Option<Supersede>> {
    let id = &bead.id;
    match bead.status {
        Status::Closed => {
            return Err(Error::refused(format!(
                "{id} is closed; reopen it first (gt bead reopen {id})"
            )))
        }
        Status::Merging => {
            return Err(Error::refused(format!(
                "{id} is waiting in the merge queue"
            )))
        }
        _ => {}
    }
    let Some(open) = open else { return Ok(None) };
    if req.supersede != Some(open.id) {
        return Err(Error::refused(format!(
            "{id} is already hooked to {} (session {}); use --force to take it over",
            open.agent(),
            open.tmux_session
        )));
    }
    let other = open.rig != req.rig || open.polecat != req.polecat;
    Ok(Some(Supersede {
        session: open.clone(),
        reason: end_reason::SUPERSEDED,
        polecat: other.then(|| PolecatChange::idle(&open.rig, &open.polecat)),
    }))
}

/// What hooking writes besides the bead (changed in place) and the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    /// `rig/polecat`, the bead's new assignee.
    pub agent: String,
    /// The polecat becomes working, holding the bead, on `req.branch`.
    pub polecat: PolecatChange,
}

/// Hooking, second step (after [`hook_takeover`]'s session is ended):
/// refuses a `polecat` busy with another bead or with an open session
/// (`polecat_session`, read after the takeover); else `bead` becomes hooked,
/// assigned to the polecat, with `rig`/`polecat`/`branch` metadata.
pub fn hook(
    bead: &mut Bead,
    polecat: &Polecat,
    polecat_session: Option<&Session>,
    req: &HookRequest<'_>,
    now: &str,
) -> Result<HookPlan> {
    let resuming = polecat.bead.as_deref() == Some(bead.id.as_str());
    if polecat.state != PolecatState::Idle && !resuming {
        return Err(Error::refused(format!(
            "polecat {} is {}{}",
            polecat.address(),
            polecat.state,
            polecat
                .bead
                .as_deref()
                .map(|b| format!(" with {b}"))
                .unwrap_or_default()
        )));
    }
    if let Some(s) = polecat_session {
        return Err(Error::refused(format!(
            "polecat {} still has an open session on {}",
            polecat.address(),
            s.bead
        )));
    }
    let agent = polecat.address();
    bead.set_status(Status::Hooked, now);
    bead.assignee = Some(agent.clone());
    bead.metadata.insert("rig".into(), json!(req.rig));
    bead.metadata.insert("polecat".into(), json!(req.polecat));
    bead.metadata.insert("branch".into(), json!(req.branch));
    Ok(HookPlan {
        agent,
        polecat: PolecatChange {
            rig: req.rig.to_string(),
            name: req.polecat.to_string(),
            state: PolecatState::Working,
            bead: Some(bead.id.clone()),
            branch: Some(req.branch.to_string()),
        },
    })
}

/// The `sling` event of hooked `bead` to `agent`, recorded as session `sid`.
pub fn sling_event(bead: &Bead, agent: &str, req: &HookRequest<'_>, sid: i64) -> NewEvent {
    NewEvent::new(
        kind::SLING,
        format!(
            "slung {} to {agent} ({}): {}",
            bead.id, req.runtime, bead.title
        ),
    )
    .rig(req.rig)
    .bead(&bead.id)
    .payload(json!({
        "agent": agent, "session": sid, "runtime": req.runtime,
        "branch": req.branch, "base": req.base_commit,
    }))
}

/// The agent of session `s` is seen running: its `bead`, if still hooked,
/// becomes `in_progress` (`true`: the bead changed and is to be written);
/// and the `session.started` event.
pub fn mark_running(s: &Session, bead: &mut Bead, now: &str) -> (bool, NewEvent) {
    let changed = bead.status == Status::Hooked;
    if changed {
        bead.set_status(Status::InProgress, now);
    }
    let ev = NewEvent::new(
        kind::SESSION_STARTED,
        format!("{} started on {} in {}", s.agent(), s.bead, s.tmux_session),
    )
    .rig(&s.rig)
    .bead(&s.bead)
    .payload(json!({ "session": s.id, "tmux": s.tmux_session, "runtime": s.runtime }));
    (changed, ev)
}

/// The `sling.failed` event of undoing a sling of bead `id` (its session
/// `session`, if it got that far); `polecat_removed`: the polecat the sling
/// created was deleted.
pub fn sling_failed(
    undo: &SlingUndo<'_>,
    id: &str,
    session: Option<&Session>,
    polecat_removed: bool,
) -> NewEvent {
    let agent = session.map(Session::agent);
    let mut ev = NewEvent::new(
        kind::SLING_FAILED,
        format!(
            "sling of {id}{} failed: {}",
            agent
                .as_deref()
                .map(|a| format!(" to {a}"))
                .unwrap_or_default(),
            undo.note
        ),
    )
    .payload(json!({
        "session": undo.session,
        "bead": id,
        "agent": agent,
        "bead_removed": undo.drop_bead,
        "polecat_removed": polecat_removed,
        "note": undo.note,
    }));
    if let Some(s) = session {
        ev = ev.rig(&s.rig);
    }
    if !undo.drop_bead {
        ev = ev.bead(id);
    }
    ev
}

/// `gt done`, first step: refused when session `s` has already ended.
pub fn check_finish(s: &Session) -> Result<()> {
    if s.is_open() {
        return Ok(());
    }
    Err(Error::refused(format!(
        "session {} of {} on {} has already ended ({})",
        s.id,
        s.agent(),
        s.bead,
        s.end_reason.as_deref().unwrap_or("unknown")
    )))
}

/// What `gt done` writes besides the bead (changed in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishPlan {
    /// The status of the merge request to queue for the session's branch,
    /// if one is queued.
    pub merge_status: Option<&'static str>,
    /// The session ends for this reason, at the request's head commit.
    pub end_reason: &'static str,
    /// The polecat goes idle.
    pub polecat: PolecatChange,
}

/// `gt done` on session `s` (checked by [`check_finish`]): completed with
/// no changes closes `bead`; completed queues a merge request and the bead
/// is `merging`; escalated or deferred gives it back ([`reopen_for_others`]).
pub fn finish(s: &Session, bead: &mut Bead, req: &DoneRequest<'_>, now: &str) -> FinishPlan {
    let mut merge_status = None;
    match req.status {
        DoneStatus::Completed if req.no_changes => {
            bead.set_status(Status::Closed, now);
            bead.close_reason = Some(
                req.note
                    .map(|n| format!("done without code changes: {n}"))
                    .unwrap_or_else(|| "done without code changes".into()),
            );
        }
        DoneStatus::Completed => {
            bead.set_status(Status::Merging, now);
            merge_status = Some(mr_status::QUEUED);
        }
        DoneStatus::Escalated | DoneStatus::Deferred => reopen_for_others(bead, now),
    }
    FinishPlan {
        merge_status,
        end_reason: end_reason::DONE,
        polecat: PolecatChange::idle(&s.rig, &s.polecat),
    }
}

/// The `merge.queued` event of merge request `mr` queued by `gt done` on
/// session `s`.
pub fn merge_queued(s: &Session, req: &DoneRequest<'_>, mr: i64) -> NewEvent {
    NewEvent::new(
        kind::MERGE_QUEUED,
        format!("merge request {mr} queued: {} ({})", s.branch, s.bead),
    )
    .rig(&s.rig)
    .bead(&s.bead)
    .payload(json!({ "merge_request": mr, "branch": s.branch, "head": req.head_commit }))
}

/// The `done` event of `gt done` on session `s`, appended last.
pub fn done_event(s: &Session, req: &DoneRequest<'_>) -> NewEvent {
    let status = match req.status {
        DoneStatus::Completed => "completed",
        DoneStatus::Escalated => "escalated",
        DoneStatus::Deferred => "deferred",
    };
    NewEvent::new(
        kind::DONE,
        format!("{} done with {}: {status}", s.agent(), s.bead),
    )
    .rig(&s.rig)
    .bead(&s.bead)
    .payload(json!({
        "status": status, "note": req.note, "head": req.head_commit,
        "session": s.id, "no_changes": req.no_changes,
    }))
}
