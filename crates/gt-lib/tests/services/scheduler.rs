//! The scheduler on the fake host: queued beads start by priority, then
//! age, never beyond `scheduler.max_polecats`.

use gt_lib::bead::Status;
use gt_lib::scheduler::dispatch;
use gt_lib::store::deacon::DeaconStore;
use gt_lib::store::BeadStore;

use crate::testkit::{Kit, ACTOR};

#[test]
fn dispatch_starts_queued_beads_by_priority_then_age_within_capacity() {
    let k = Kit::with_config(&[("scheduler.max_polecats", "1")]);
    let minute = time::Duration::minutes(1);
    let running = k.sling(&["running"]).unwrap().remove(0);
    // Created in this order, a minute apart: low priority first.
    let low = k.bead("low priority, oldest", 3);
    k.clock.advance(minute);
    let urgent_old = k.bead("urgent, older", 1);
    k.clock.advance(minute);
    let urgent_new = k.bead("urgent, newer", 1);
    for b in [&urgent_new, &low, &urgent_old] {
        assert!(k.sling(&[b.as_str()]).unwrap()[0].queued);
    }

    // Full: nothing starts.
    let d = dispatch(&k.ws, ACTOR).unwrap();
    assert!(d.started.is_empty() && d.failed.is_empty(), "{d:?}");

    let mut order = Vec::new();
    let mut current = running;
    for _ in 0..3 {
        k.clock.advance(minute);
        k.finish(&current);
        let d = dispatch(&k.ws, ACTOR).unwrap();
        assert!(d.failed.is_empty(), "{:?}", d.failed);
        assert_eq!(d.started.len(), 1, "one place, one start: {d:?}");
        current = d.started.into_iter().next().unwrap();
        assert!(!current.queued);
        assert!(k.tmux.session(&current.session).is_some());
        assert_eq!(
            k.ws.store.get_bead(&current.bead).unwrap().status,
            Status::InProgress
        );
        order.push(current.bead.clone());
    }
    assert_eq!(order, vec![urgent_old, urgent_new, low]);
    assert!(dispatch(&k.ws, ACTOR).unwrap().started.is_empty());
}

#[test]
fn a_paused_scheduler_starts_nothing() {
    let k = Kit::with_config(&[("scheduler.max_polecats", "1")]);
    let running = k.sling(&["running"]).unwrap().remove(0);
    let queued = k.sling(&["waiting"]).unwrap().remove(0);
    assert!(queued.queued);
    k.ws.store.set_scheduler_paused(true, ACTOR).unwrap();
    k.finish(&running);
    assert!(dispatch(&k.ws, ACTOR).unwrap().started.is_empty());
    assert_eq!(
        k.ws.store.get_bead(&queued.bead).unwrap().status,
        Status::Queued
    );
}
