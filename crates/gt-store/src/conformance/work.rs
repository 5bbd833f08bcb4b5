//! Rigs, polecats, hooks, sessions and `done`.

use gt_core::bead::Status;
use gt_core::polecat::PolecatState;
use gt_core::rig::Rig;
use gt_core::work::{DoneRequest, DoneStatus, SessionFilter, SlingUndo};

use super::{all_events, bead, events_of, hook_req, hooked, refusal, rig, rig_with_polecat, NOW};
use crate::Store;

pub fn rigs_add_get_list_remove(s: &dyn Store) {
    let r = rig(s, "app");
    assert_eq!(
        (r.source.as_str(), r.branch.as_str()),
        ("/repos/app", "main")
    );
    assert_eq!(r.created_at, NOW);
    rig(s, "web");
    let names: Vec<String> = s.list_rigs().unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["app", "web"]);
    let dup = Rig {
        created_at: String::new(),
        ..r.clone()
    };
    assert_eq!(refusal(s.add_rig(&dup, "human")), "refused");
    assert_eq!(refusal(s.get_rig("nope")), "not_found");
    s.set_rig_agent("app", Some("codex"), "human").unwrap();
    assert_eq!(s.get_rig("app").unwrap().agent.as_deref(), Some("codex"));
    s.set_rig_agent("app", None, "human").unwrap();
    assert_eq!(s.get_rig("app").unwrap().agent, None);
    assert_eq!(refusal(s.set_rig_agent("nope", None, "human")), "not_found");
    s.remove_rig("web", "human").unwrap();
    assert_eq!(refusal(s.remove_rig("web", "human")), "not_found");
    assert_eq!(s.list_rigs().unwrap().len(), 1);
    assert_eq!(events_of(s, "rig.added").len(), 2);
    assert_eq!(events_of(s, "rig.removed").len(), 1);
}

pub fn polecats_add_get_list_state_remove(s: &dyn Store) {
    rig(s, "app");
    let p = s.add_polecat("app", "nux", "human").unwrap();
    assert_eq!((p.state, p.bead.clone()), (PolecatState::Idle, None));
    assert_eq!(s.get_polecat("app", "nux").unwrap(), p);
    s.add_polecat("app", "max", "human").unwrap();
    assert_eq!(s.list_polecats(Some("app")).unwrap().len(), 2);
    assert_eq!(s.list_polecats(None).unwrap().len(), 2);
    assert!(s.list_polecats(Some("other")).unwrap().is_empty());
    assert_eq!(refusal(s.add_polecat("app", "nux", "human")), "refused");
    assert_eq!(refusal(s.add_polecat("nope", "nux", "human")), "not_found");
    assert_eq!(
        refusal(s.add_polecat("app", "bad name!", "human")),
        "invalid"
    );
    assert_eq!(refusal(s.get_polecat("app", "nope")), "not_found");
    s.set_polecat_state("app", "nux", PolecatState::Stuck, "deacon")
        .unwrap();
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().state,
        PolecatState::Stuck
    );
    assert_eq!(
        refusal(s.set_polecat_state("app", "nope", PolecatState::Idle, "deacon")),
        "not_found"
    );
    s.remove_polecat("app", "max", "human").unwrap();
    assert_eq!(
        refusal(s.remove_polecat("app", "max", "human")),
        "not_found"
    );
    assert_eq!(s.list_polecats(None).unwrap().len(), 1);
}

pub fn work_hook_and_refusals(s: &dyn Store) {
    rig_with_polecat(s);
    s.add_polecat("app", "max", "human").unwrap();
    let b = bead(s, "work");
    let sess = s
        .hook(&hook_req(&b.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    assert_eq!(
        (sess.bead.as_str(), sess.polecat.as_str()),
        (b.id.as_str(), "nux")
    );
    assert!(sess.is_open());
    assert_eq!(s.get_bead(&b.id).unwrap().status, Status::Hooked);
    let p = s.get_polecat("app", "nux").unwrap();
    assert_eq!(
        (p.state, p.bead.as_deref()),
        (PolecatState::Working, Some(b.id.as_str()))
    );
    let before = all_events(s).len();
    // Double hook: the bead has an open session.
    assert_eq!(
        refusal(s.hook(&hook_req(&b.id, "max", "gt-app-max"), "human")),
        "refused"
    );
    // Busy polecat: nux holds a bead.
    let other = bead(s, "other");
    let before_other = all_events(s).len();
    assert_eq!(before_other, before + 1);
    assert_eq!(
        refusal(s.hook(&hook_req(&other.id, "nux", "gt-app-nux"), "human")),
        "refused"
    );
    // Closed bead.
    let closed = bead(s, "closed");
    s.close_bead(&closed.id, None, "human").unwrap();
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.hook(&hook_req(&closed.id, "max", "gt-app-max"), "human")),
        "refused"
    );
    assert_eq!(
        refusal(s.hook(&hook_req("ct-nope", "max", "gt-app-max"), "human")),
        "not_found"
    );
    assert_eq!(
        refusal(s.hook(&hook_req(&other.id, "nope", "gt-app-nope"), "human")),
        "not_found"
    );
    assert_eq!(all_events(s).len(), before, "refused hooks append nothing");
    assert_eq!(
        s.get_polecat("app", "max").unwrap().state,
        PolecatState::Idle
    );
    assert_eq!(s.get_bead(&other.id).unwrap().status, Status::Open);
}

pub fn work_sessions_running_and_ended(s: &dyn Store) {
    let (b, sess) = hooked(s);
    assert_eq!(b.status, Status::InProgress, "mark_running: in progress");
    assert_eq!(sess.running_at.as_deref(), Some(NOW));
    assert_eq!(refusal(s.mark_running(9999, "human")), "not_found");
    assert_eq!(refusal(s.get_session(9999)), "not_found");
    let open = s
        .list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(s.last_session("app", "nux").unwrap().unwrap().id, sess.id);
    assert!(s.last_session("app", "max").unwrap().is_none());
    s.end_session(sess.id, "crashed", "deacon").unwrap();
    let ended = s.get_session(sess.id).unwrap();
    assert_eq!(ended.end_reason.as_deref(), Some("crashed"));
    assert_eq!(ended.ended_at.as_deref(), Some(NOW));
    // The work stays with the polecat, to be resumed.
    assert_eq!(s.get_bead(&b.id).unwrap().status, Status::InProgress);
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().bead.as_deref(),
        Some(b.id.as_str())
    );
    assert!(s
        .list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })
        .unwrap()
        .is_empty());
    let by_bead = s
        .list_sessions(&SessionFilter {
            bead: Some(&b.id),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_bead.len(), 1);
    assert_eq!(
        refusal(s.end_session(9999, "crashed", "deacon")),
        "not_found"
    );
}

pub fn work_release_and_discard(s: &dyn Store) {
    let (b, sess) = hooked(s);
    s.release(sess.id, "failed_to_start", Some("no agent"), "human")
        .unwrap();
    let rb = s.get_bead(&b.id).unwrap();
    assert_eq!((rb.status, rb.assignee), (Status::Open, None));
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().state,
        PolecatState::Idle
    );
    assert!(!s.get_session(sess.id).unwrap().is_open());
    assert_eq!(refusal(s.release(9999, "x", None, "human")), "not_found");
    // A sling that created its bead and polecat is undone whole.
    s.add_polecat("app", "max", "human").unwrap();
    let fresh = bead(s, "fresh");
    let sess2 = s
        .hook(&hook_req(&fresh.id, "max", "gt-app-max"), "human")
        .unwrap();
    s.discard_sling(
        &SlingUndo {
            bead: &fresh.id,
            session: Some(sess2.id),
            drop_bead: true,
            new_polecat: Some(("app", "max")),
            note: "tmux failed",
        },
        "human",
    )
    .unwrap();
    assert_eq!(refusal(s.get_bead(&fresh.id)), "not_found");
    assert_eq!(refusal(s.get_polecat("app", "max")), "not_found");
    assert_eq!(events_of(s, "sling.failed").len(), 1);
    let undo = SlingUndo {
        bead: "ct-nope",
        session: None,
        drop_bead: false,
        new_polecat: None,
        note: "x",
    };
    assert_eq!(refusal(s.discard_sling(&undo, "human")), "not_found");
}

pub fn work_finish_and_wrong_state(s: &dyn Store) {
    let (b, sess) = hooked(s);
    let req = DoneRequest {
        session: sess.id,
        status: DoneStatus::Completed,
        note: None,
        head_commit: "bbbb",
        no_changes: false,
    };
    let out = s.finish(&req, "app/nux").unwrap();
    assert_eq!(out.bead.status, Status::Merging);
    let mr = out.merge_request.expect("a merge request");
    assert_eq!(
        (
            mr.bead.as_str(),
            mr.head_commit.as_str(),
            mr.status.as_str()
        ),
        (b.id.as_str(), "bbbb", "queued")
    );
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().state,
        PolecatState::Idle
    );
    assert_eq!(s.list_merge_requests(Some("app")).unwrap().len(), 1);
    assert!(s.list_merge_requests(Some("web")).unwrap().is_empty());
    assert_eq!(events_of(s, "done").len(), 1);
    // Wrong state: the session is over.
    let before = all_events(s).len();
    assert_eq!(refusal(s.finish(&req, "app/nux")), "refused");
    assert_eq!(
        refusal(s.finish(
            &DoneRequest {
                session: 9999,
                ..req.clone()
            },
            "x"
        )),
        "not_found"
    );
    assert_eq!(all_events(s).len(), before);
    // Completed with no changes: closed without a merge request.
    let b2 = bead(s, "nothing to do");
    let s2 = s
        .hook(&hook_req(&b2.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    let out = s
        .finish(
            &DoneRequest {
                session: s2.id,
                no_changes: true,
                head_commit: "aaaa",
                ..req.clone()
            },
            "app/nux",
        )
        .unwrap();
    assert_eq!((out.bead.status, out.merge_request), (Status::Closed, None));
    // Deferred: the bead is deferred, no merge request.
    let b3 = bead(s, "later");
    let s3 = s
        .hook(&hook_req(&b3.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    let out = s
        .finish(
            &DoneRequest {
                session: s3.id,
                status: DoneStatus::Deferred,
                note: Some("needs a decision"),
                ..req
            },
            "app/nux",
        )
        .unwrap();
    // Given back: open and unassigned for someone else.
    assert_eq!((out.bead.status, out.bead.assignee), (Status::Open, None));
    assert_eq!(s.list_merge_requests(None).unwrap().len(), 1);
}
