//! The merge queue, rig config and convoys.

use gt_core::bead::Status;
use gt_core::merge::{FailureKind, Landing};
use gt_core::work::{DoneRequest, DoneStatus};
use serde_json::json;

use super::{bead, events_of, hooked, refusal};
use crate::Store;

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
}

pub fn merge_queue_lands(s: &dyn Store) {
    let (bead_id, mr) = queued(s);
    let e = s.merge_entry(mr).unwrap();
    assert_eq!((e.mr.status.as_str(), e.attempts), ("queued", 0));
    assert_eq!(s.merge_entries(Some("app"), &["queued"]).unwrap().len(), 1);
    assert!(s.merge_entries(None, &["merged"]).unwrap().is_empty());
    assert_eq!(s.rigs_with_merge_work().unwrap(), ["app"]);
    assert_eq!(s.merge_queue_lengths().unwrap(), [("app".to_string(), 1)]);
    let batch = s.next_batch().unwrap();
    let landing = [Landing {
        id: mr,
        commit: "cccc".into(),
    }];
    s.mark_landing(&landing, "aaaa", batch, "refinery").unwrap();
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
        ("merged", Some("cccc"))
    );
    assert!(e.followup_pending);
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Closed);
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
        ("conflict", files)
    );
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Open);
    let e = s.requeue(mr, "retry", "human").unwrap();
    assert_eq!(e.mr.status, "queued");
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Merging);
    let e = s.remove_merge_request(mr, "human").unwrap();
    assert_eq!(e.mr.status, "removed");
    assert_eq!(s.get_bead(&bead_id).unwrap().status, Status::Open);
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
    let partial = b.id[..b.id.len() - 1].to_string();
    let c2 = s.add_to_convoy("release-1", &[partial], "human").unwrap();
    assert_eq!(c2.total, 2);
    assert_eq!(s.get_convoy(&c.id.to_string()).unwrap().beads.len(), 2);
    assert_eq!(s.list_convoys().unwrap().len(), 1);
    assert_eq!(
        refusal(s.create_convoy("release-1", std::slice::from_ref(&b.id), "human")),
        "refused"
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
    assert_eq!(s.get_convoy("release-1").unwrap().status, "landed");
    assert!(s.refresh_convoys("human").unwrap().is_empty());
    assert_eq!(events_of(s, "convoy.landed").len(), 1);
}
