//! The deacon's records, observations, event-log reads and upkeep.

use gt_core::deacon::{GateRun, NewFault};
use gt_core::event::NewEvent;
use gt_core::observe::ScreenSample;

use super::{all_events, bead, events_of, refusal, NOW};
use crate::Store;

pub fn deacon_state_and_scheduler(s: &dyn Store) {
    let st = s.deacon_state().unwrap();
    assert_eq!((st.pid, st.patrols, st.scheduler_paused), (None, 0, false));
    s.deacon_started(Some(4242)).unwrap();
    let st = s.deacon_state().unwrap();
    assert_eq!((st.pid, st.started_at.as_deref()), (Some(4242), Some(NOW)));
    s.deacon_heartbeat(3).unwrap();
    s.deacon_heartbeat(2).unwrap();
    let st = s.deacon_state().unwrap();
    assert_eq!(
        (st.patrols, st.actions, st.heartbeat_at.as_deref()),
        (2, 5, Some(NOW))
    );
    s.deacon_started(None).unwrap();
    assert_eq!(s.deacon_state().unwrap().pid, None);
    s.set_scheduler_paused(true, "human").unwrap();
    assert!(s.deacon_state().unwrap().scheduler_paused);
    s.set_scheduler_paused(false, "human").unwrap();
    assert!(!s.deacon_state().unwrap().scheduler_paused);
    assert_eq!(events_of(s, "scheduler.paused").len(), 1);
    assert_eq!(events_of(s, "scheduler.resumed").len(), 1);
    let paused = &events_of(s, "scheduler.paused")[0];
    assert_eq!(
        (paused.summary.as_str(), paused.actor.as_str()),
        ("scheduler paused", "human")
    );
    assert_eq!(paused.payload, serde_json::json!({}));
    assert_eq!(
        events_of(s, "scheduler.resumed")[0].summary,
        "scheduler resumed"
    );
}

pub fn deacon_marks_and_actions(s: &dyn Store) {
    assert!(s.mark("restart:app/nux").unwrap().is_none());
    let m = s
        .record_action(
            "restart:app/nux",
            NewEvent::new("deacon.restart", "restarted app/nux"),
            "deacon",
        )
        .unwrap();
    assert_eq!((m.count, m.first_at.as_str()), (1, NOW));
    let m = s
        .record_action(
            "restart:app/nux",
            NewEvent::new("deacon.restart", "again"),
            "deacon",
        )
        .unwrap();
    assert_eq!(m.count, 2);
    s.record_action(
        "restart:web/max",
        NewEvent::new("deacon.restart", "x"),
        "deacon",
    )
    .unwrap();
    s.record_action(
        "nudge:app/nux",
        NewEvent::new("deacon.nudge", "x"),
        "deacon",
    )
    .unwrap();
    assert_eq!(s.mark("restart:app/nux").unwrap().unwrap().count, 2);
    assert_eq!(s.marks("restart:").unwrap().len(), 2);
    assert_eq!(
        events_of(s, "deacon.restart").len(),
        3,
        "each action appends its event"
    );
    assert!(s.forget_mark("restart:app/nux").unwrap());
    assert!(!s.forget_mark("restart:app/nux").unwrap());
    assert!(s.mark("restart:app/nux").unwrap().is_none());
}

pub fn deacon_faults(s: &dyn Store) {
    let f = NewFault {
        scope: "agent",
        subject: "app/nux",
        rig: Some("app"),
        polecat: Some("nux"),
        step: "restart",
        error: "tmux failed",
    };
    let ev = || NewEvent::new("deacon.fault", "fault");
    let (fault, appended) = s.record_fault(&f, ev(), "deacon").unwrap();
    assert!(appended);
    assert_eq!((fault.count, fault.first_at.as_str()), (1, NOW));
    let (fault, appended) = s.record_fault(&f, ev(), "deacon").unwrap();
    assert!(!appended, "the same error again: no event");
    assert_eq!(fault.count, 2);
    let changed = NewFault {
        error: "git failed",
        ..f.clone()
    };
    assert!(s.record_fault(&changed, ev(), "deacon").unwrap().1);
    assert_eq!(s.faults().unwrap().len(), 1);
    assert_eq!(events_of(s, "deacon.fault").len(), 2);
    let clear = || NewEvent::new("deacon.fault_cleared", "cleared");
    assert!(s
        .clear_fault("app/nux", "restart", clear(), "deacon")
        .unwrap());
    assert!(!s
        .clear_fault("app/nux", "restart", clear(), "deacon")
        .unwrap());
    assert!(s.faults().unwrap().is_empty());
    assert_eq!(
        events_of(s, "deacon.fault_cleared").len(),
        1,
        "no event for no fault"
    );
}

pub fn deacon_gate_runs(s: &dyn Store) {
    let g = GateRun {
        rig: "app".into(),
        pgid: 777,
        start_ticks: Some(12),
        gate: "test".into(),
        command: "cargo test".into(),
        started_at: NOW.into(),
    };
    s.gate_started(&g).unwrap();
    assert_eq!(s.gate_runs().unwrap(), std::slice::from_ref(&g));
    // Another pgid is not this run: nothing ends.
    s.gate_finished("app", 1, None, "refinery").unwrap();
    assert_eq!(s.gate_runs().unwrap().len(), 1);
    s.gate_finished(
        "app",
        777,
        Some(NewEvent::new("merge.gate_killed", "killed")),
        "deacon",
    )
    .unwrap();
    assert!(s.gate_runs().unwrap().is_empty());
    assert_eq!(events_of(s, "merge.gate_killed").len(), 1);
}

pub fn observe_screens_and_cursor(s: &dyn Store) {
    assert_eq!(s.event_cursor().unwrap(), 0, "no events yet");
    assert!(s
        .first_event_id_since("2000-01-01T00:00:00.000000Z")
        .unwrap()
        .is_none());
    assert!(s.last_event_time_by("human").unwrap().is_none());
    let sample = |hash| ScreenSample {
        agent: "app/nux",
        session_id: Some(1),
        screen_hash: hash,
        screen_kind: "working",
        screen_text: None,
    };
    let obs = s.record_screens(&[sample("h1")]).unwrap();
    assert_eq!(
        (
            obs[0].first_observed_at.as_str(),
            obs[0].screen_changed_at.clone()
        ),
        (NOW, None)
    );
    let obs = s.record_screens(&[sample("h2")]).unwrap();
    assert_eq!(obs[0].screen_changed_at.as_deref(), Some(NOW));
    assert!(s.record_screens(&[]).unwrap().is_empty());
    assert_eq!(s.screen_observations().unwrap().len(), 1);
    assert_eq!(s.event_cursor().unwrap(), 0, "observations append no event");
    // The screen text is kept only when a sample carries it (and has a
    // session); a sample without it leaves the text stored before.
    assert!(s.stored_screen("app/nux").unwrap().is_none());
    let with_text = |text| ScreenSample {
        screen_text: Some(text),
        ..sample("h3")
    };
    s.record_screens(&[with_text("line one\n  ünïcode ✓ 'quotes'")])
        .unwrap();
    let kept = s.stored_screen("app/nux").unwrap().unwrap();
    assert_eq!(
        (kept.agent.as_str(), kept.session_id, kept.screen.as_str()),
        ("app/nux", 1, "line one\n  ünïcode ✓ 'quotes'")
    );
    assert_eq!(kept.captured_at, NOW);
    s.record_screens(&[sample("h4")]).unwrap();
    assert_eq!(s.stored_screen("app/nux").unwrap().unwrap(), kept);
    s.record_screens(&[ScreenSample {
        session_id: Some(2),
        ..with_text("second session")
    }])
    .unwrap();
    let kept = s.stored_screen("app/nux").unwrap().unwrap();
    assert_eq!(
        (kept.session_id, kept.screen.as_str()),
        (2, "second session")
    );
    s.record_screens(&[ScreenSample {
        agent: "app/slit",
        session_id: None,
        ..with_text("no session")
    }])
    .unwrap();
    assert!(s.stored_screen("app/slit").unwrap().is_none());
    assert_eq!(s.event_cursor().unwrap(), 0, "screens append no event");
    // A wait never fails; an event committed since the last wait is
    // reported by the next one (a backend that cannot tell says `true`).
    s.wait_for_events(std::time::Duration::from_millis(20))
        .unwrap();
    let a = bead(s, "a");
    assert!(s
        .wait_for_events(std::time::Duration::from_secs(5))
        .unwrap());
    // Nothing committed since: a quiet wait says so (no read needed).
    assert!(!s
        .wait_for_events(std::time::Duration::from_millis(50))
        .unwrap());
    let b = bead(s, "b");
    let cursor = s.event_cursor().unwrap();
    let all = all_events(s);
    assert_eq!(cursor, all.last().unwrap().id, "the newest event id");
    let after = s.events_after(all[0].id, 10).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].bead.as_deref(), Some(b.id.as_str()));
    assert_eq!(
        s.events_after(0, 1).unwrap()[0].bead.as_deref(),
        Some(a.id.as_str())
    );
    assert!(s.events_after(cursor, 10).unwrap().is_empty());
    assert_eq!(s.first_event_id_since(NOW).unwrap(), Some(all[0].id));
    assert!(s
        .first_event_id_since("2999-01-01T00:00:00.000000Z")
        .unwrap()
        .is_none());
    assert_eq!(s.last_event_time_by("human").unwrap().as_deref(), Some(NOW));
    assert!(s.last_event_time_by("app/nux").unwrap().is_none());
}

pub fn observe_counts(s: &dyn Store) {
    assert!(s.merge_queue_lengths().unwrap().is_empty());
    let human = vec!["human".to_string()];
    s.send_mail(
        &gt_core::mail::NewMail {
            from: "app/nux",
            to: &human,
            subject: "hi",
            body: "b",
            priority: gt_core::mail::Priority::Normal,
            reply_to: None,
        },
        "app/nux",
    )
    .unwrap();
    let a = bead(s, "a");
    s.create_convoy("c1", &[a.id], "human").unwrap();
    let x = s.town_extras().unwrap();
    assert_eq!(x.unread_mail_for_human, Some(1));
    assert_eq!(x.open_escalations, Some(0));
    assert_eq!(x.open_convoys, Some(1));
}

pub fn maintenance_reports(s: &dyn Store) {
    bead(s, "a");
    assert!(
        s.integrity_problems(10).unwrap().is_empty(),
        "a sound store"
    );
    assert!(s.schema_version().unwrap() > 0);
    assert!(!s.location().is_empty());
    assert_eq!(refusal(s.get_bead("ct-nope")), "not_found");
}
