//! The merge queue, rig config and convoys.

use gt_core::bead::Status;
use gt_core::merge::MergeStatus;
use gt_core::merge::{FailureKind, Landing};
use gt_core::work::{DoneRequest, DoneStatus};
use serde_json::json;

use gt_core::event::Event;

use super::{all_events, bead, events_of, hooked, refusal};
use crate::Store;

/// The newest event of `kind`.
fn last(s: &dyn Store, kind: &str) -> Event {
    events_of(s, kind).pop().expect("an event of that kind")
}

/// A bead of rig `app` done and queued; returns (bead id, merge request id).
fn queued(s: &dyn Store) -> (String, i64) {
    let (b, sess) = hooked(s);
    let out = s
        .finish(
            &DoneRequest {
                session: sess.id,
                status: DoneStatus::Completed,
                note: None,
                head_commit: "bbbb",
                no_changes: false,
            },
            "app/nux",
        )
        .unwrap();
    (b.id, out.merge_request.unwrap().id)
}

pub fn merge_rig_config(s: &dyn Store) {
    super::rig(s, "app");
    assert!(s.rig_config("app").unwrap().is_empty());
    let c = s
        .set_rig_config("app", "gates", Some(json!(["cargo test"])), "human")
        .unwrap();
    assert_eq!(c["gates"], json!(["cargo test"]));
    assert_eq!(s.rig_config("app").unwrap(), c);
    let ev = last(s, "rig.config_set");
    assert_eq!(
        (ev.summary.as_str(), ev.rig.as_deref()),
        (r#"rig app: gates = ["cargo test"]"#, Some("app"))
    );
    assert_eq!(
        ev.payload,
        json!({ "key": "gates", "value": ["cargo test"] })
    );
    assert!(s
        .set_rig_config("app", "gates", None, "human")
        .unwrap()
        .is_empty());
    assert_eq!(refusal(s.rig_config("nope")), "not_found");
    assert_eq!(
        refusal(s.set_rig_config("nope", "k", None, "human")),
        "not_found"
    );
    assert_eq!(events_of(s, "rig.config_set").len(), 2);
    let ev = last(s, "rig.config_set");
    assert_eq!(ev.summary, "rig app: gates unset");
    assert_eq!(ev.payload, json!({ "key": "gates", "value": null }));
}

pub fn merge_queue_lands(s: &dyn Store) {
    let (bead_id, mr) = queued(s);
    let e = s.merge_entry(mr).unwrap();
    assert_eq!((e.mr.status.as_str(), e.attempts), ("queued", 0));
    assert_eq!(
        s.merge_entries(Some("app"), &[MergeStatus::Queued])
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .merge_entries(None, &[MergeStatus::Merged])
        .unwrap()
        .is_empty());
    assert_eq!(s.rigs_with_merge_work().unwrap(), ["app"]);
    assert_eq!(s.merge_queue_lengths().unwrap(), [("app".to_string(), 1)]);
    // A bead's own requests, and nobody else's.
    let of_bead = s.merge_entries_for_bead(&bead_id).unwrap();
    assert_eq!(of_bead.len(), 1);
    assert_eq!(
        (of_bead[0].mr.id, of_bead[0].mr.bead.as_str()),
        (mr, bead_id.as_str())
    );
    assert!(s.merge_entries_for_bead("ct-nope").unwrap().is_empty());
    let batch = s.next_batch().unwrap();
    let landing = [Landing {
        id: mr,
        commit: "cccc0123456789".into(),
    }];
    s.mark_landing(&landing, "aaaa", batch, "refinery").unwrap();
    let ev = last(s, "merge.landing");
    assert_eq!(
        ev.summary,
        format!("merge request {mr} ({bead_id}) landing as cccc01234567")
    );
    assert_eq!(
        (ev.rig.as_deref(), ev.bead.as_deref()),
        (Some("app"), Some(bead_id.as_str()))
    );
    assert_eq!(
        ev.payload,
        json!({ "merge_request": mr, "commit": "cccc0123456789", "target_from": "aaaa",
                "batch": batch })
    );
    let before = all_events(s).len();
    assert_eq!(
        s.mark_landing(&landing, "aaaa", batch, "refinery")
            .unwrap_err()
            .to_string(),
        format!("merge request {mr} is landing, not queued")
    );
    assert_eq!(all_events(s).len(), before, "a refusal writes nothing");
    assert_eq!(s.merge_entry(mr).unwrap().attempts, 1);
    let e = s.merge_entry(mr).unwrap();
    assert_eq!(
        (e.mr.status.as_str(), e.attempts, e.batch),
        ("landing", 1, Some(batch))
    );
    assert_eq!(e.target_from.as_deref(), Some("aaaa"));
    assert!(s.next_batch().unwrap() > batch);
    let landed = s.record_merged(&landing, "refinery").unwrap();
    assert!(landed.is_empty(), "no convoy");
    let e = s.merge_entry(mr).unwrap();
    assert_eq!(
        (e.mr.status.as_str(), e.merged_commit.as_deref()),
        ("merged", Some("cccc0123456789"))
    );
    assert!(e.followup_pending);
    let b = s.get_bead(&bead_id).unwrap();
    assert_eq!(b.status, Status::Closed);
    assert_eq!(b.close_reason.as_deref(), Some("merged: cccc01234567"));
    assert_eq!(b.metadata["merged_commit"], json!("cccc0123456789"));
    let tail: Vec<Event> = all_events(s).into_iter().rev().take(2).collect();
    assert_eq!(
        (tail[1].kind.as_str(), tail[0].kind.as_str()),
        ("bead.closed", "merge.landed")
    );
    assert_eq!(
        tail[1].summary,
        format!("closed {bead_id}: merged as cccc01234567")
    );
    assert_eq!(tail[1].payload, json!({ "reason": "merged: cccc01234567" }));
    assert_eq!(
        tail[0].summary,
        format!(
            "merge request {mr} ({bead_id}, {}) landed as cccc01234567",
            e.mr.branch
        )
    );
    assert_eq!(
        tail[0].payload,
        json!({ "merge_request": mr, "commit": "cccc0123456789", "branch": e.mr.branch,
                "batch": batch })
    );
    let before = all_events(s).len();
    assert!(s.record_merged(&landing, "refinery").unwrap().is_empty());
    assert_eq!(all_events(s).len(), before, "already merged: nothing again");
    assert_eq!(
        s.requeue(mr, "x", "human").unwrap_err().to_string(),
        format!("merge request {mr} is merged; only a failed, conflicting or landing request can be queued again")
    );
    assert_eq!(
        s.remove_merge_request(mr, "human").unwrap_err().to_string(),
        format!("merge request {mr} is merged; only a queued, failed or conflicting request can be removed")
    );
    s.set_followup_done(mr).unwrap();
    assert!(!s.merge_entry(mr).unwrap().followup_pending);
    assert!(s.rigs_with_merge_work().unwrap().is_empty());
    assert_eq!(refusal(s.merge_entry(9999)), "not_found");
    assert_eq!(events_of(s, "merge.landing").len(), 1);
    assert_eq!(events_of(s, "merge.landed").len(), 1);
}

pub fn merge_failure_requeue_remove(s: &dyn Store) {
    let (bead_id, mr) = queued(s);
    let files = vec!["src/a.rs".to_string()];
    let e = s
        .record_failure(
            mr,
            FailureKind::Conflict,
            "rebase conflicted",
            &files,
            "fix the conflict",
            "refinery",
        )
        .unwrap();
    assert_eq!(
        (e.mr.status.as_str(), e.conflict_files.clone()),
        ("conflict", files.clone())
    );
    assert_eq!(
        (
            e.failure.as_deref(),
            e.followup_pending,
            e.landing_commit.clone()
        ),
        (Some("rebase conflicted"), true, None)
    );
    let b = s.get_bead(&bead_id).unwrap();
    assert_eq!((b.status, b.assignee), (Status::Open, None));
    let ev = last(s, "merge.conflict");
    assert_eq!(
        ev.summary,
        format!("merge request {mr} ({bead_id}) conflict: rebase conflicted")
    );
    assert_eq!(
        (ev.rig.as_deref(), ev.bead.as_deref()),
        (Some("app"), Some(bead_id.as_str()))
    );
    assert_eq!(
        ev.payload,
        json!({ "merge_request": mr, "files": files, "failure": "rebase conflicted" })
    );
    let comments = s.bead_details(&bead_id).unwrap().comments;
    assert_eq!(
        comments
            .last()
            .map(|c| (c.author.as_str(), c.text.as_str())),
        Some(("refinery", "fix the conflict"))
    );
    let e = s.requeue(mr, "retry", "human").unwrap();
    assert_eq!(e.mr.status, MergeStatus::Queued);
    assert!(!e.followup_pending);
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Merging);
    let ev = last(s, "merge.requeued");
    assert_eq!(
        ev.summary,
        format!("merge request {mr} ({bead_id}) queued again: retry")
    );
    assert_eq!(
        ev.payload,
        json!({ "merge_request": mr, "reason": "retry" })
    );
    let before = all_events(s).len();
    assert_eq!(
        s.requeue(mr, "again", "human").unwrap().mr.status,
        MergeStatus::Queued
    );
    assert_eq!(
        all_events(s).len(),
        before,
        "already queued: nothing written"
    );
    let e = s.remove_merge_request(mr, "human").unwrap();
    assert_eq!(e.mr.status, MergeStatus::Removed);
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Open);
    let comments = s.bead_details(&bead_id).unwrap().comments;
    assert_eq!(
        comments.last().map(|c| c.text.clone()),
        Some(format!(
            "merge request {mr} was removed from the queue; branch {} is kept",
            e.mr.branch
        ))
    );
    let ev = last(s, "merge.removed");
    assert_eq!(
        ev.summary,
        format!("merge request {mr} ({bead_id}) removed from the queue")
    );
    assert_eq!(
        ev.payload,
        json!({ "merge_request": mr, "branch": e.mr.branch })
    );
    assert_eq!(
        refusal(s.record_failure(9999, FailureKind::Gate, "x", &[], "x", "r")),
        "not_found"
    );
    assert_eq!(refusal(s.requeue(9999, "x", "human")), "not_found");
    assert_eq!(refusal(s.remove_merge_request(9999, "human")), "not_found");
    assert_eq!(events_of(s, "merge.conflict").len(), 1);
    assert_eq!(events_of(s, "merge.removed").len(), 1);
}

pub fn convoys_create_add_refresh(s: &dyn Store) {
    let a = bead(s, "a");
    let b = bead(s, "b");
    let c = s
        .create_convoy("release-1", std::slice::from_ref(&a.id), "human")
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.status.as_str(), c.total),
        ("release-1", "open", 1)
    );
    let ev = last(s, "convoy.created");
    assert_eq!(
        ev.summary,
        format!("convoy {} (release-1) created with 1 bead(s)", c.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "convoy": c.id, "name": "release-1", "beads": [a.id] })
    );
    let partial = b.id[..b.id.len() - 1].to_string();
    let c2 = s.add_to_convoy("release-1", &[partial], "human").unwrap();
    assert_eq!(c2.total, 2);
    let ev = last(s, "convoy.updated");
    assert_eq!(
        ev.summary,
        format!("convoy {} (release-1): 1 bead(s) added", c.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "convoy": c.id, "name": "release-1", "added": [b.id] })
    );
    let before = all_events(s).len();
    s.add_to_convoy("release-1", std::slice::from_ref(&a.id), "human")
        .unwrap();
    assert_eq!(all_events(s).len(), before, "nothing new added: no event");
    assert_eq!(s.get_convoy(&c.id.to_string()).unwrap().beads.len(), 2);
    assert_eq!(s.list_convoys().unwrap().len(), 1);
    assert_eq!(
        refusal(s.create_convoy("release-1", std::slice::from_ref(&b.id), "human")),
        "refused"
    );
    assert_eq!(
        s.create_convoy("release-1", &[], "human")
            .unwrap_err()
            .to_string(),
        "convoy 'release-1' already exists"
    );
    assert_eq!(refusal(s.create_convoy(" ", &[], "human")), "invalid");
    assert_eq!(
        refusal(s.create_convoy("42", &[], "human")),
        "invalid",
        "looks like an id"
    );
    assert_eq!(refusal(s.get_convoy("nope")), "not_found");
    assert_eq!(
        refusal(s.add_to_convoy("nope", std::slice::from_ref(&a.id), "human")),
        "not_found"
    );
    assert_eq!(
        refusal(s.add_to_convoy("release-1", &["ct-nope".into()], "human")),
        "not_found"
    );
    s.close_bead(&a.id, None, "human").unwrap();
    assert!(s.refresh_convoys("human").unwrap().is_empty());
    s.close_bead(&b.id, None, "human").unwrap();
    let landed = s.refresh_convoys("human").unwrap();
    assert_eq!(landed.len(), 1);
    assert_eq!(
        s.get_convoy("release-1").unwrap().status,
        gt_core::merge::ConvoyStatus::Landed
    );
    assert!(s.refresh_convoys("human").unwrap().is_empty());
    assert_eq!(events_of(s, "convoy.landed").len(), 1);
    let ev = last(s, "convoy.landed");
    assert_eq!(
        ev.summary,
        format!("convoy {} (release-1) landed: 2 bead(s) closed", c.id)
    );
    assert_eq!(
        ev.payload,
        json!({ "convoy": c.id, "name": "release-1",
                "beads": s.get_convoy("release-1").unwrap().beads })
    );
    // A bead added to a landed convoy opens it again; already closed, it
    // lands again at once.
    let d = bead(s, "d");
    let c3 = s
        .add_to_convoy("release-1", std::slice::from_ref(&d.id), "human")
        .unwrap();
    assert_eq!((c3.status.as_str(), c3.landed_at.clone()), ("open", None));
    s.close_bead(&d.id, None, "human").unwrap();
    let e = bead(s, "e");
    s.close_bead(&e.id, None, "human").unwrap();
    let c4 = s
        .add_to_convoy("release-1", std::slice::from_ref(&e.id), "human")
        .unwrap();
    assert_eq!(
        (c4.status.as_str(), c4.landed_at.as_deref(), c4.total),
        ("landed", Some(super::NOW), 4)
    );
    assert_eq!(events_of(s, "convoy.landed").len(), 2);
}

pub fn molecules_in_one_transaction(s: &dyn Store) {
    use gt_core::bead::{BeadType, DepType, NewBead};
    let mut epic = NewBead::new("feature: parser");
    epic.bead_type = Some(BeadType::Epic);
    let step = |title: &str, deps: &[&str]| {
        let mut n = NewBead::new(title);
        n.status = Some(Status::Queued);
        n.deps = deps
            .iter()
            .map(|d| (DepType::Blocks, d.to_string()))
            .collect();
        n
    };
    let steps = [
        step("design", &[]),
        step("build", &["@0"]),
        step("test", &["@0"]),
        step("land", &["@1", "@2"]),
    ];
    let before = all_events(s).len();
    let m = s
        .create_molecule("diamond", &epic, &steps, "diamond-1", "human")
        .unwrap();
    assert_eq!(m.epic.bead_type, BeadType::Epic);
    assert_eq!(m.steps.len(), 4);
    for b in &m.steps {
        assert_eq!(b.status, Status::Queued, "{}", b.title);
        assert_eq!(
            s.get_bead(&b.id).unwrap().parent.as_deref(),
            Some(m.epic.id.as_str())
        );
    }
    // The needs are blocks edges between the steps made.
    let land = s.bead_details(&m.steps[3].id).unwrap();
    let mut on: Vec<&str> = land
        .dependencies
        .iter()
        .filter(|d| d.dep_type == DepType::Blocks)
        .map(|d| d.depends_on.as_str())
        .collect();
    on.sort();
    let mut want = vec![m.steps[1].id.as_str(), m.steps[2].id.as_str()];
    want.sort();
    assert_eq!(on, want);
    assert!(land.blocked);
    assert!(!s.bead_details(&m.steps[0].id).unwrap().blocked);
    // The convoy tracks the steps, not the epic.
    assert_eq!((m.convoy.name.as_str(), m.convoy.total), ("diamond-1", 4));
    let kinds: Vec<String> = all_events(s)[before..]
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "bead.created").count(), 5);
    assert_eq!(kinds.last().map(String::as_str), Some("molecule.created"));
    let ev = last(s, "molecule.created");
    assert_eq!(ev.bead.as_deref(), Some(m.epic.id.as_str()));
    assert_eq!(ev.payload["formula"], json!("diamond"));
    assert_eq!(ev.payload["steps"].as_array().unwrap().len(), 4);

    // Any part refused: nothing at all is written.
    let events = all_events(s).len();
    let beads = s.count_by_status().unwrap();
    // A forward reference.
    let bad = [step("a", &["@1"]), step("b", &[])];
    assert_eq!(
        refusal(s.create_molecule("x", &epic, &bad, "x-1", "human")),
        "invalid"
    );
    // A convoy name already taken.
    assert_eq!(
        refusal(s.create_molecule("x", &epic, &steps, "diamond-1", "human")),
        "refused"
    );
    // A step that may not start so.
    let mut closed = step("c", &[]);
    closed.status = Some(Status::Closed);
    assert_eq!(
        refusal(s.create_molecule("x", &epic, &[closed], "x-2", "human")),
        "invalid"
    );
    assert_eq!(all_events(s).len(), events);
    assert_eq!(s.count_by_status().unwrap(), beads);
}
