//! The refinery on the fake host and a temporary repository: a request is
//! merged onto the rig's main; a failing gate lands nothing and slings the
//! bead back to its polecat (on the fake tmux).

use gt_lib::bead::Status;
use gt_lib::refinery::{kind, run_once, MergeStatus};
use gt_lib::store::merge::MergeStore;
use gt_lib::store::BeadStore;

use crate::testkit::{Kit, ACTOR, RIG};

#[test]
fn one_request_is_merged_onto_main() {
    let k = Kit::new();
    let s = k.sling(&["add a feature"]).unwrap().remove(0);
    k.finish(&s);
    let repo = k.ws.repo_dir(RIG);
    let main_before =
        k.ws.host
            .git
            .resolve(&repo, "refs/heads/main")
            .unwrap()
            .unwrap();
    let queued =
        k.ws.store
            .merge_entries(Some(RIG), &[MergeStatus::Queued])
            .unwrap();
    assert_eq!(queued.len(), 1);
    let head = queued[0].mr.head_commit.clone();

    let report = run_once(&k.ws, Some(RIG), ACTOR).unwrap();
    assert_eq!(report.merged(), 1, "{report:?}");
    assert_eq!(report.rigs[0].merged, vec![queued[0].mr.id]);

    // git: main moved forward and contains the polecat's commit.
    let main =
        k.ws.host
            .git
            .resolve(&repo, "refs/heads/main")
            .unwrap()
            .unwrap();
    assert_ne!(main, main_before);
    assert!(k.ws.host.git.all_ancestors(&repo, &[&head], &main).unwrap());
    // The store: the request merged, the bead closed, one landed event.
    let mr = &k
        .ws
        .store
        .merge_entries(Some(RIG), &[MergeStatus::Merged])
        .unwrap()[0];
    assert_eq!(mr.merged_commit.as_deref(), Some(main.as_str()));
    assert_eq!(k.ws.store.get_bead(&s.bead).unwrap().status, Status::Closed);
    let landed = k.events(kind::MERGE_LANDED);
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].bead.as_deref(), Some(s.bead.as_str()));
    // A second run has nothing to do.
    assert_eq!(run_once(&k.ws, Some(RIG), ACTOR).unwrap().merged(), 0);
}

#[test]
fn a_failing_gate_lands_nothing_and_slings_the_bead_back() {
    let k = Kit::new();
    gt_lib::refinery::set_config(&k.ws, RIG, "gates.test", Some("exit 3"), ACTOR).unwrap();
    let s = k.sling(&["broken feature"]).unwrap().remove(0);
    k.finish(&s);
    let repo = k.ws.repo_dir(RIG);
    let main_before = k.ws.host.git.resolve(&repo, "refs/heads/main").unwrap();

    let report = run_once(&k.ws, Some(RIG), ACTOR).unwrap();
    assert_eq!(report.merged(), 0, "{report:?}");
    assert_eq!(
        k.ws.host.git.resolve(&repo, "refs/heads/main").unwrap(),
        main_before
    );
    let failed =
        k.ws.store
            .merge_entries(Some(RIG), &[MergeStatus::Failed])
            .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(k.events(kind::MERGE_FAILED).len(), 1);
    // Slung back to the same polecat: a second start of its session.
    assert_eq!(report.rigs[0].reslung, vec![s.bead.clone()]);
    assert_eq!(k.tmux.starts(&s.session), 2);
    assert_eq!(
        k.ws.store.get_bead(&s.bead).unwrap().status,
        Status::InProgress
    );
}

/// The refinery's lease is renewed only past half its life: runs in between
/// read it and write nothing (no sync to disk per run).
#[test]
fn the_refinery_lease_is_renewed_only_past_half_life() {
    use gt_lib::store::HostStore;
    let k = Kit::with_config(&[("host.dead_after", "2m")]);
    let lease = |k: &Kit| {
        k.ws.store
            .list_leases()
            .unwrap()
            .into_iter()
            .find(|l| l.name == gt_core::host::refinery_lease(RIG))
            .expect("the rig's refinery lease")
    };
    assert_eq!(
        gt_lib::hosts::refinery_here(&k.ws, RIG, ACTOR).unwrap(),
        None
    );
    let first = lease(&k).expires_at;
    k.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        gt_lib::hosts::refinery_here(&k.ws, RIG, ACTOR).unwrap(),
        None
    );
    assert_eq!(
        lease(&k).expires_at,
        first,
        "a young lease is not written again"
    );
    k.clock.advance(time::Duration::seconds(45));
    assert_eq!(
        gt_lib::hosts::refinery_here(&k.ws, RIG, ACTOR).unwrap(),
        None
    );
    assert!(
        lease(&k).expires_at > first,
        "past half its life it is renewed"
    );
}
