//! Rigs, polecats, hooks, sessions and `done`.

use gt_core::bead::Status;
use gt_core::polecat::PolecatState;
use gt_core::rig::Rig;
use gt_core::work::{DoneRequest, DoneStatus, SessionFilter, SlingUndo};

use super::{
    all_events, bead, events_of, hook_req, hooked, refusal, rig, rig_with_polecat, NOW, PREFIX,
};
use crate::Store;

/// The message of a result that must fail.
fn message<T: std::fmt::Debug>(r: gt_core::error::Result<T>) -> String {
    r.expect_err("expected a refusal").to_string()
}

/// The last event of `kind`.
fn last_of(s: &dyn Store, kind: &str) -> gt_core::event::Event {
    events_of(s, kind).pop().expect("an event of that kind")
}

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
    // The words and the events, as every backend must give them.
    assert_eq!(
        message(s.add_rig(&dup, "human")),
        "rig 'app' already exists"
    );
    let taken = "bead prefix 'app' is already used in this town; choose another with --prefix";
    let same_prefix = Rig {
        name: "app2".into(),
        ..dup.clone()
    };
    assert_eq!(message(s.add_rig(&same_prefix, "human")), taken);
    let town_prefix = Rig {
        name: "town".into(),
        prefix: PREFIX.into(),
        ..dup.clone()
    };
    assert_eq!(
        message(s.add_rig(&town_prefix, "human")),
        format!(
            "bead prefix '{PREFIX}' is already used in this town; choose another with --prefix"
        )
    );
    assert_eq!(refusal(s.get_rig("town")), "not_found");
    let added = &events_of(s, "rig.added")[0];
    assert_eq!(added.summary, "rig app added (/repos/app, branch main)");
    assert_eq!(added.rig.as_deref(), Some("app"));
    assert_eq!(
        added.payload,
        serde_json::json!({ "source": "/repos/app", "branch": "main", "prefix": "app" })
    );
    let removed = last_of(s, "rig.removed");
    assert_eq!(
        (removed.summary.as_str(), removed.rig.as_deref()),
        ("rig web removed", Some("web"))
    );
    let set: Vec<String> = events_of(s, "rig.config_set")
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert_eq!(
        set,
        ["rig app agent = codex", "rig app agent = (town default)"]
    );
    assert_eq!(
        last_of(s, "rig.config_set").payload,
        serde_json::json!({ "key": "agent", "value": null })
    );
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
    assert_eq!(
        message(s.add_polecat("app", "nux", "human")),
        "polecat app/nux already exists"
    );
    assert_eq!(last_of(s, "polecat.added").summary, "polecat app/max added");
    let removed = last_of(s, "polecat.removed");
    assert_eq!(
        (removed.summary.as_str(), removed.rig.as_deref()),
        ("polecat app/max removed", Some("app"))
    );
    let state = last_of(s, "polecat.state");
    assert_eq!(state.summary, "polecat app/nux is now stuck (was idle)");
    assert_eq!(
        state.payload,
        serde_json::json!({ "polecat": "nux", "state": "stuck", "was": "idle" })
    );
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
    // The words.
    assert_eq!(
        message(s.hook(&hook_req(&b.id, "max", "gt-app-max"), "human")),
        format!(
            "{} is already hooked to app/nux (session gt-app-nux); use --force to take it over",
            b.id
        )
    );
    assert_eq!(
        message(s.hook(&hook_req(&other.id, "nux", "gt-app-nux"), "human")),
        format!("polecat app/nux is working with {}", b.id)
    );
    assert_eq!(
        message(s.hook(&hook_req(&closed.id, "max", "gt-app-max"), "human")),
        format!(
            "{0} is closed; reopen it first (gt bead reopen {0})",
            closed.id
        )
    );
    let sling = &events_of(s, "sling")[0];
    assert_eq!(
        sling.summary,
        format!("slung {} to app/nux (fake): work", b.id)
    );
    assert_eq!(
        (sling.rig.as_deref(), sling.bead.as_deref()),
        (Some("app"), Some(b.id.as_str()))
    );
    assert_eq!(
        sling.payload,
        serde_json::json!({
            "agent": "app/nux", "session": sess.id, "runtime": "fake",
            "branch": "polecat/nux/x", "base": "aaaa",
        })
    );
    let hooked = s.get_bead(&b.id).unwrap();
    assert_eq!(hooked.assignee.as_deref(), Some("app/nux"));
    assert_eq!(hooked.metadata["rig"], serde_json::json!("app"));
    assert_eq!(hooked.metadata["polecat"], serde_json::json!("nux"));
    assert_eq!(
        hooked.metadata["branch"],
        serde_json::json!("polecat/nux/x")
    );
    // Taken over (`--force`) by another polecat: the old session ends
    // superseded and its polecat goes idle; then the new one is slung.
    let before = all_events(s).len();
    let mut force = hook_req(&b.id, "max", "gt-app-max");
    force.supersede = Some(sess.id);
    let taken = s.hook(&force, "human").unwrap();
    let old = s.get_session(sess.id).unwrap();
    assert_eq!(old.end_reason.as_deref(), Some("superseded"));
    let nux = s.get_polecat("app", "nux").unwrap();
    assert_eq!((nux.state, nux.bead), (PolecatState::Idle, None));
    let max = s.get_polecat("app", "max").unwrap();
    assert_eq!(
        (max.state, max.bead.as_deref()),
        (PolecatState::Working, Some(b.id.as_str()))
    );
    assert_eq!(
        s.get_bead(&b.id).unwrap().assignee.as_deref(),
        Some("app/max")
    );
    let new: Vec<(String, String)> = all_events(s)[before..]
        .iter()
        .map(|e| (e.kind.clone(), e.summary.clone()))
        .collect();
    assert_eq!(
        new,
        [
            (
                "session.ended".to_string(),
                format!("session of app/nux on {} ended: superseded", b.id)
            ),
            (
                "sling".to_string(),
                format!("slung {} to app/max (fake): work", b.id)
            ),
        ]
    );
    assert_eq!(
        last_of(s, "session.ended").payload,
        serde_json::json!({ "session": sess.id, "reason": "superseded", "agent": "app/nux" })
    );
    assert!(taken.is_open());
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
    let started = last_of(s, "session.started");
    assert_eq!(
        started.summary,
        format!("app/nux started on {} in gt-app-nux", b.id)
    );
    assert_eq!(
        started.payload,
        serde_json::json!({ "session": sess.id, "tmux": "gt-app-nux", "runtime": "fake" })
    );
    assert_eq!(
        last_of(s, "session.ended").summary,
        format!("session of app/nux on {} ended: crashed", b.id)
    );
    // Ending it again changes and appends nothing.
    let before = all_events(s).len();
    s.end_session(sess.id, "again", "deacon").unwrap();
    assert_eq!(all_events(s).len(), before);
    assert_eq!(
        s.get_session(sess.id).unwrap().end_reason.as_deref(),
        Some("crashed")
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
    let released = last_of(s, "bead.released");
    assert_eq!(
        released.summary,
        format!("{} released by app/nux: failed_to_start", b.id)
    );
    assert_eq!(
        released.payload,
        serde_json::json!({ "session": sess.id, "reason": "failed_to_start", "note": "no agent" })
    );
    assert_eq!(
        last_of(s, "session.ended").summary,
        format!("session of app/nux on {} ended: failed_to_start", b.id)
    );
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
    let failed = last_of(s, "sling.failed");
    assert_eq!(
        failed.summary,
        format!("sling of {} to app/max failed: tmux failed", fresh.id)
    );
    assert_eq!((failed.rig.as_deref(), failed.bead), (Some("app"), None));
    assert_eq!(
        failed.payload,
        serde_json::json!({
            "session": sess2.id, "bead": fresh.id, "agent": "app/max",
            "bead_removed": true, "polecat_removed": true, "note": "tmux failed",
        })
    );
    // A sling that reused its bead and polecat gives the bead back.
    let kept = bead(s, "kept");
    let sess3 = s
        .hook(&hook_req(&kept.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    s.discard_sling(
        &SlingUndo {
            bead: &kept.id,
            session: Some(sess3.id),
            drop_bead: false,
            new_polecat: None,
            note: "no tmux",
        },
        "human",
    )
    .unwrap();
    let kb = s.get_bead(&kept.id).unwrap();
    assert_eq!((kb.status, kb.assignee), (Status::Open, None));
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().state,
        PolecatState::Idle
    );
    assert_eq!(
        s.get_session(sess3.id).unwrap().end_reason.as_deref(),
        Some("failed_to_start")
    );
    let failed = last_of(s, "sling.failed");
    assert_eq!(
        failed.summary,
        format!("sling of {} to app/nux failed: no tmux", kept.id)
    );
    assert_eq!(failed.bead.as_deref(), Some(kept.id.as_str()));
    assert_eq!(failed.payload["bead_removed"], serde_json::json!(false));
    assert_eq!(failed.payload["polecat_removed"], serde_json::json!(false));
    assert_eq!(
        last_of(s, "bead.released").payload["note"],
        serde_json::json!("no tmux")
    );
    let undo = SlingUndo {
        bead: "ct-nope",
        session: None,
        drop_bead: false,
        new_polecat: None,
        note: "x",
    };
    assert_eq!(refusal(s.discard_sling(&undo, "human")), "not_found");
}

pub fn work_release_and_queue_in_one_transaction(s: &dyn Store) {
    use gt_core::bead::BeadPatch;
    let (b, sess) = hooked(s);
    let mut queue = BeadPatch {
        status: Some(Status::Queued),
        ..Default::default()
    };
    queue
        .metadata
        .insert("queue_rig".into(), serde_json::json!("app"));
    // A patch with labels is refused and writes nothing.
    let labelled = BeadPatch {
        add_labels: vec!["x".into()],
        ..queue.clone()
    };
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.release_and_queue(sess.id, "host_dead", None, &labelled, "deacon")),
        "invalid"
    );
    assert!(s.get_session(sess.id).unwrap().is_open());
    assert_eq!(all_events(s).len(), before);
    // Released and queued again: the session ended, the polecat idle, the
    // bead queued with the patch's metadata and unassigned.
    assert!(s
        .release_and_queue(sess.id, "host_dead", Some("host b died"), &queue, "deacon")
        .unwrap());
    let rb = s.get_bead(&b.id).unwrap();
    assert_eq!((rb.status, rb.assignee.as_deref()), (Status::Queued, None));
    assert_eq!(rb.metadata["queue_rig"], serde_json::json!("app"));
    assert!(!s.get_session(sess.id).unwrap().is_open());
    assert_eq!(
        s.get_polecat("app", "nux").unwrap().state,
        PolecatState::Idle
    );
    let kinds: Vec<String> = all_events(s)[before..]
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(kinds, ["session.ended", "bead.released", "bead.updated"]);
    assert_eq!(
        last_of(s, "bead.updated").bead.as_deref(),
        Some(b.id.as_str())
    );
    // A bead that moved on meanwhile (here: deferred) is released but not
    // queued.
    let other = bead(s, "other");
    let sess2 = s
        .hook(&hook_req(&other.id, "nux", "gt-app-nux"), "human")
        .unwrap();
    s.update_bead(
        &other.id,
        &BeadPatch {
            status: Some(Status::Deferred),
            ..Default::default()
        },
        "human",
    )
    .unwrap();
    assert!(!s
        .release_and_queue(sess2.id, "host_dead", None, &queue, "deacon")
        .unwrap());
    assert_eq!(s.get_bead(&other.id).unwrap().status, Status::Deferred);
    assert!(!s.get_session(sess2.id).unwrap().is_open());
    assert_eq!(
        refusal(s.release_and_queue(9999, "x", None, &queue, "deacon")),
        "not_found"
    );
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
    let tail: Vec<String> = all_events(s)
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(tail, ["merge.queued", "session.ended", "done"]);
    let queued = last_of(s, "merge.queued");
    assert_eq!(
        queued.summary,
        format!("merge request {} queued: polecat/nux/x ({})", mr.id, b.id)
    );
    assert_eq!(
        queued.payload,
        serde_json::json!({ "merge_request": mr.id, "branch": "polecat/nux/x", "head": "bbbb" })
    );
    let done = last_of(s, "done");
    assert_eq!(
        done.summary,
        format!("app/nux done with {}: completed", b.id)
    );
    assert_eq!(
        done.payload,
        serde_json::json!({
            "status": "completed", "note": null, "head": "bbbb",
            "session": sess.id, "no_changes": false,
        })
    );
    let ended = s.get_session(sess.id).unwrap();
    assert_eq!(
        (ended.end_reason.as_deref(), ended.head_commit.as_deref()),
        (Some("done"), Some("bbbb"))
    );
    // In the merge queue: it cannot be hooked.
    assert_eq!(
        message(s.hook(&hook_req(&b.id, "nux", "gt-app-nux"), "human")),
        format!("{} is waiting in the merge queue", b.id)
    );
    // Wrong state: the session is over.
    let before = all_events(s).len();
    assert_eq!(refusal(s.finish(&req, "app/nux")), "refused");
    assert_eq!(
        message(s.finish(&req, "app/nux")),
        format!(
            "session {} of app/nux on {} has already ended (done)",
            sess.id, b.id
        )
    );
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
    assert_eq!(
        out.bead.close_reason.as_deref(),
        Some("done without code changes")
    );
    assert_eq!(
        last_of(s, "done").payload["no_changes"],
        serde_json::json!(true)
    );
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
    let done = last_of(s, "done");
    assert_eq!(
        done.summary,
        format!("app/nux done with {}: deferred", b3.id)
    );
    assert_eq!(done.payload["note"], serde_json::json!("needs a decision"));
    assert_eq!(s.list_merge_requests(None).unwrap().len(), 1);
}
