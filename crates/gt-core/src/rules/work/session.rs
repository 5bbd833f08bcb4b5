//! Rules for sessions: hook a bead to a polecat, mark it running, release
//! it, undo a failed sling, and finish (`gt done`).

use serde_json::json;

use super::PolecatChange;
use crate::bead::{Bead, Status};
use crate::error::{Error, Result};
use crate::event::{kind, NewEvent};
use crate::merge::MergeStatus;
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

/// After a release ([`reopen_for_others`]): queues `bead` again with
/// `patch` (its status and metadata, e.g. the scheduler's queue target) and
/// returns the `bead.updated` event, when the release gave it back (it is
/// `open`); `None` when it had moved on (merging, closed) and stays as is.
/// A patch with labels is refused: the caller writes no label table here.
pub fn requeue(
    bead: &mut Bead,
    patch: &crate::bead::BeadPatch,
    now: &str,
) -> Result<Option<NewEvent>> {
    crate::rules::bead::check_patch(patch)?;
    if !patch.add_labels.is_empty() || !patch.remove_labels.is_empty() {
        return Err(Error::invalid(
            "a requeue sets status and metadata, not labels",
        ));
    }
    if bead.status != Status::Open {
        return Ok(None);
    }
    Ok(Some(crate::rules::bead::update(bead, patch, now)))
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

/// Undoing a sling that created its polecat: the polecat is deleted when it
/// has no session (of `sessions` in all) but the undone one (`own`: 0 or 1).
pub fn drop_new_polecat(sessions: i64, own: i64) -> bool {
    sessions - own == 0
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
    pub merge_status: Option<MergeStatus>,
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
            merge_status = Some(MergeStatus::Queued);
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::fixtures::{assert_event, bead};
    use crate::rules::work::fixtures::{polecat, session};

    const NOW: &str = "2026-01-02T00:00:00.000Z";

    fn req<'a>(bead: &'a str, polecat: &'a str) -> HookRequest<'a> {
        HookRequest {
            bead,
            rig: "app",
            polecat,
            tmux_session: "gt-app-nux",
            runtime: "claude",
            branch: "polecat/nux/app-1",
            base_commit: "aaaa",
            supersede: None,
            host: "h1",
        }
    }

    fn done(status: DoneStatus, note: Option<&str>, no_changes: bool) -> DoneRequest<'_> {
        DoneRequest {
            session: 7,
            status,
            note,
            head_commit: "bbbb",
            no_changes,
        }
    }

    #[test]
    fn session_ended_and_bead_released_events() {
        let s = session(7, "app", "nux", "app-1");
        let ev = session_ended(&s, "vanished");
        assert_event(
            &ev,
            kind::SESSION_ENDED,
            "session of app/nux on app-1 ended: vanished",
            Some("app"),
            Some("app-1"),
            json!({ "session": 7, "reason": "vanished", "agent": "app/nux" }),
        );
        let ev = bead_released(&s, "app-1", "failed_to_start", Some("no agent"));
        assert_event(
            &ev,
            kind::BEAD_RELEASED,
            "app-1 released by app/nux: failed_to_start",
            Some("app"),
            Some("app-1"),
            json!({ "session": 7, "reason": "failed_to_start", "note": "no agent" }),
        );
    }

    #[test]
    fn reopen_for_others_opens_held_work_and_keeps_the_rest() {
        for from in [Status::Hooked, Status::InProgress, Status::Queued] {
            let mut b = bead("app-1", from);
            b.assignee = Some("app/nux".into());
            b.metadata
                .insert("branch".into(), json!("polecat/nux/app-1"));
            reopen_for_others(&mut b, NOW);
            assert_eq!((b.status, b.assignee.as_deref()), (Status::Open, None));
            assert_eq!(b.updated_at, NOW);
            assert_eq!(b.metadata["branch"], json!("polecat/nux/app-1"));
        }
        for keep in [Status::Closed, Status::Merging, Status::Open] {
            let mut b = bead("app-1", keep);
            b.assignee = Some("app/nux".into());
            reopen_for_others(&mut b, NOW);
            assert_eq!((b.status, b.assignee.as_deref()), (keep, None));
        }
    }

    #[test]
    fn free_polecat_idles_only_the_holder() {
        let mut p = polecat("app", "nux");
        p.state = PolecatState::Working;
        p.bead = Some("app-1".into());
        assert_eq!(
            free_polecat(&p, "app-1"),
            Some(PolecatChange::idle("app", "nux"))
        );
        assert_eq!(free_polecat(&p, "app-2"), None);
        let c = PolecatChange::idle("app", "nux");
        assert_eq!(
            (c.state, c.bead, c.branch),
            (PolecatState::Idle, None, None)
        );
    }

    #[test]
    fn hook_takeover_refuses_closed_merging_and_held_beads() {
        let r = req("app-1", "nux");
        let closed = bead("app-1", Status::Closed);
        let err = hook_takeover(&closed, None, &r).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app-1 is closed; reopen it first (gt bead reopen app-1)"
        );
        let merging = bead("app-1", Status::Merging);
        let err = hook_takeover(&merging, None, &r).unwrap_err();
        assert_eq!(err.to_string(), "app-1 is waiting in the merge queue");
        let open = bead("app-1", Status::Open);
        assert_eq!(hook_takeover(&open, None, &r).unwrap(), None);
        let held = session(3, "app", "max", "app-1");
        let err = hook_takeover(&open, Some(&held), &r).unwrap_err();
        assert_eq!(
            err.to_string(),
            "app-1 is already hooked to app/max (session gt-app-max); use --force to take it over"
        );
        assert!(matches!(err, Error::Refused(_)));
    }

    #[test]
    fn hook_takeover_supersedes_the_named_session() {
        let open = bead("app-1", Status::InProgress);
        let mut r = req("app-1", "nux");
        r.supersede = Some(3);
        let other = session(3, "app", "max", "app-1");
        let sup = hook_takeover(&open, Some(&other), &r).unwrap().unwrap();
        assert_eq!(sup.session, other);
        assert_eq!(sup.reason, end_reason::SUPERSEDED);
        assert_eq!(sup.polecat, Some(PolecatChange::idle("app", "max")));
        let own = session(3, "app", "nux", "app-1");
        let sup = hook_takeover(&open, Some(&own), &r).unwrap().unwrap();
        assert_eq!(sup.polecat, None, "the same polecat goes on working");
    }

    #[test]
    fn hook_refuses_a_busy_polecat() {
        let r = req("app-1", "nux");
        let mut b = bead("app-1", Status::Open);
        let mut p = polecat("app", "nux");
        p.state = PolecatState::Working;
        p.bead = Some("app-2".into());
        let err = hook(&mut b, &p, None, &r, NOW).unwrap_err();
        assert_eq!(err.to_string(), "polecat app/nux is working with app-2");
        p.state = PolecatState::Stuck;
        p.bead = None;
        let err = hook(&mut b, &p, None, &r, NOW).unwrap_err();
        assert_eq!(err.to_string(), "polecat app/nux is stuck");
        let idle = polecat("app", "nux");
        let other = session(4, "app", "nux", "app-2");
        let err = hook(&mut b, &idle, Some(&other), &r, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "polecat app/nux still has an open session on app-2"
        );
        assert_eq!(b, bead("app-1", Status::Open), "a refusal changes nothing");
    }

    #[test]
    fn hook_hooks_the_bead_and_sets_the_polecat_working() {
        let r = req("app-1", "nux");
        let mut b = bead("app-1", Status::Open);
        let plan = hook(&mut b, &polecat("app", "nux"), None, &r, NOW).unwrap();
        assert_eq!(b.status, Status::Hooked);
        assert_eq!(b.assignee.as_deref(), Some("app/nux"));
        assert_eq!(b.updated_at, NOW);
        assert_eq!(b.metadata["rig"], json!("app"));
        assert_eq!(b.metadata["polecat"], json!("nux"));
        assert_eq!(b.metadata["branch"], json!("polecat/nux/app-1"));
        assert_eq!(plan.agent, "app/nux");
        assert_eq!(
            plan.polecat,
            PolecatChange {
                rig: "app".into(),
                name: "nux".into(),
                state: PolecatState::Working,
                bead: Some("app-1".into()),
                branch: Some("polecat/nux/app-1".into()),
            }
        );
        // Resuming: a working polecat that holds this very bead.
        let mut p = polecat("app", "nux");
        p.state = PolecatState::Working;
        p.bead = Some("app-1".into());
        let mut b = bead("app-1", Status::InProgress);
        assert!(hook(&mut b, &p, None, &r, NOW).is_ok());
        assert_eq!(b.status, Status::Hooked);

        let ev = sling_event(&b, &plan.agent, &r, 9);
        assert_event(
            &ev,
            kind::SLING,
            "slung app-1 to app/nux (claude): title of app-1",
            Some("app"),
            Some("app-1"),
            json!({
                "agent": "app/nux", "session": 9, "runtime": "claude",
                "branch": "polecat/nux/app-1", "base": "aaaa",
            }),
        );
    }

    #[test]
    fn mark_running_moves_a_hooked_bead_on() {
        let s = session(7, "app", "nux", "app-1");
        let mut b = bead("app-1", Status::Hooked);
        let (changed, ev) = mark_running(&s, &mut b, NOW);
        assert!(changed);
        assert_eq!((b.status, b.updated_at.as_str()), (Status::InProgress, NOW));
        assert_event(
            &ev,
            kind::SESSION_STARTED,
            "app/nux started on app-1 in gt-app-nux",
            Some("app"),
            Some("app-1"),
            json!({ "session": 7, "tmux": "gt-app-nux", "runtime": "claude" }),
        );
        let (changed, _) = mark_running(&s, &mut b, "later");
        assert!(!changed);
        assert_eq!((b.status, b.updated_at.as_str()), (Status::InProgress, NOW));
    }

    #[test]
    fn sling_failed_names_what_was_undone() {
        let s = session(7, "app", "nux", "app-1");
        let undo = SlingUndo {
            bead: "1",
            session: Some(7),
            drop_bead: false,
            new_polecat: None,
            note: "tmux failed",
        };
        let ev = sling_failed(&undo, "app-1", Some(&s), false);
        assert_event(
            &ev,
            kind::SLING_FAILED,
            "sling of app-1 to app/nux failed: tmux failed",
            Some("app"),
            Some("app-1"),
            json!({
                "session": 7, "bead": "app-1", "agent": "app/nux",
                "bead_removed": false, "polecat_removed": false, "note": "tmux failed",
            }),
        );
        let dropped = SlingUndo {
            session: None,
            drop_bead: true,
            ..undo
        };
        let ev = sling_failed(&dropped, "app-1", None, true);
        assert_eq!(ev.summary, "sling of app-1 failed: tmux failed");
        assert_eq!((ev.rig, ev.bead), (None, None), "the bead is gone");
        assert_eq!(ev.payload["bead_removed"], json!(true));
        assert_eq!(ev.payload["polecat_removed"], json!(true));
        assert_eq!(ev.payload["agent"], json!(null));
        assert_eq!(ev.payload["session"], json!(null));
    }

    #[test]
    fn drop_new_polecat_only_when_unused() {
        assert!(drop_new_polecat(1, 1));
        assert!(drop_new_polecat(0, 0), "the sling got no session");
        assert!(!drop_new_polecat(2, 1), "it worked before");
        assert!(!drop_new_polecat(1, 0));
    }

    #[test]
    fn check_finish_refuses_an_ended_session() {
        let mut s = session(7, "app", "nux", "app-1");
        assert!(check_finish(&s).is_ok());
        s.ended_at = Some(NOW.into());
        let err = check_finish(&s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "session 7 of app/nux on app-1 has already ended (unknown)"
        );
        s.end_reason = Some("done".into());
        let err = check_finish(&s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "session 7 of app/nux on app-1 has already ended (done)"
        );
        assert!(matches!(err, Error::Refused(_)));
    }

    #[test]
    fn finish_completed_queues_a_merge_request() {
        let s = session(7, "app", "nux", "app-1");
        let mut b = bead("app-1", Status::InProgress);
        let req = done(DoneStatus::Completed, Some("ok"), false);
        let plan = finish(&s, &mut b, &req, NOW);
        assert_eq!(b.status, Status::Merging);
        assert_eq!(plan.merge_status, Some(MergeStatus::Queued));
        assert_eq!(plan.end_reason, end_reason::DONE);
        assert_eq!(plan.polecat, PolecatChange::idle("app", "nux"));
        let ev = merge_queued(&s, &req, 5);
        assert_event(
            &ev,
            kind::MERGE_QUEUED,
            "merge request 5 queued: polecat/nux/app-1 (app-1)",
            Some("app"),
            Some("app-1"),
            json!({ "merge_request": 5, "branch": "polecat/nux/app-1", "head": "bbbb" }),
        );
        let ev = done_event(&s, &req);
        assert_event(
            &ev,
            kind::DONE,
            "app/nux done with app-1: completed",
            Some("app"),
            Some("app-1"),
            json!({
                "status": "completed", "note": "ok", "head": "bbbb",
                "session": 7, "no_changes": false,
            }),
        );
    }

    #[test]
    fn finish_without_changes_closes_and_escalated_gives_back() {
        let s = session(7, "app", "nux", "app-1");
        let mut b = bead("app-1", Status::InProgress);
        let plan = finish(&s, &mut b, &done(DoneStatus::Completed, None, true), NOW);
        assert_eq!(plan.merge_status, None);
        assert_eq!(b.status, Status::Closed);
        assert_eq!(b.closed_at.as_deref(), Some(NOW));
        assert_eq!(b.close_reason.as_deref(), Some("done without code changes"));
        let mut b = bead("app-1", Status::InProgress);
        let req = done(DoneStatus::Completed, Some("already there"), true);
        finish(&s, &mut b, &req, NOW);
        assert_eq!(
            b.close_reason.as_deref(),
            Some("done without code changes: already there")
        );
        assert_eq!(done_event(&s, &req).payload["no_changes"], json!(true));

        for (status, word) in [
            (DoneStatus::Escalated, "escalated"),
            (DoneStatus::Deferred, "deferred"),
        ] {
            let mut b = bead("app-1", Status::InProgress);
            b.assignee = Some("app/nux".into());
            let req = done(status, Some("needs a decision"), false);
            let plan = finish(&s, &mut b, &req, NOW);
            assert_eq!(plan.merge_status, None);
            assert_eq!(plan.polecat, PolecatChange::idle("app", "nux"));
            assert_eq!((b.status, b.assignee.as_deref()), (Status::Open, None));
            let ev = done_event(&s, &req);
            assert_eq!(ev.summary, format!("app/nux done with app-1: {word}"));
            assert_eq!(ev.payload["status"], json!(word));
        }
    }
}
