//! Hosts: join, up (a new epoch), heartbeat, down, declared dead, fenced;
//! and which host runs each session.

use gt_core::host::HostState;

use super::{all_events, events_of, hook_req, hooked, refusal, NOW};
use crate::{SessionFilter, Store};

/// A canonical time after [`NOW`]: a heartbeat at `NOW` is stale before it.
const LATER: &str = "2026-01-02T03:05:00.000000Z";

pub fn hosts_join_up_heartbeat_down(s: &dyn Store) {
    assert!(s.list_hosts().unwrap().is_empty());
    let h = s.add_host("h1", Some(3), "human").unwrap();
    assert_eq!(
        (h.name.as_str(), h.capacity, h.state, h.epoch),
        ("h1", Some(3), HostState::Down, 0)
    );
    assert_eq!(
        (h.joined_at.as_str(), h.heartbeat_at.as_deref()),
        (NOW, None)
    );
    assert_eq!(s.get_host("h1").unwrap(), h);
    // Refusals write nothing.
    let before = all_events(s).len();
    assert_eq!(refusal(s.add_host("h1", None, "human")), "refused");
    assert_eq!(refusal(s.add_host("Bad Name", None, "human")), "invalid");
    assert_eq!(refusal(s.get_host("nope")), "not_found");
    assert_eq!(refusal(s.host_up("nope", "human")), "not_found");
    assert_eq!(
        refusal(s.host_heartbeat("h1", 0)),
        "refused",
        "down: fenced"
    );
    assert_eq!(all_events(s).len(), before);
    s.add_host("h0", None, "human").unwrap();
    let names: Vec<String> = s
        .list_hosts()
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["h0", "h1"]);

    let up = s.host_up("h1", "deacon").unwrap();
    assert_eq!((up.state, up.epoch), (HostState::Up, 1));
    assert_eq!(up.heartbeat_at.as_deref(), Some(NOW));
    let hb = s.host_heartbeat("h1", 1).unwrap();
    assert_eq!(hb.heartbeat_at.as_deref(), Some(NOW));
    let cap = s.set_host_capacity("h1", None, "human").unwrap();
    assert_eq!(cap.capacity, None);
    assert_eq!(s.get_host("h1").unwrap().capacity, None);
    let down = s.host_down("h1", 1, "deacon").unwrap();
    assert_eq!(down.state, HostState::Down);
    assert_eq!(refusal(s.host_down("h1", 1, "deacon")), "refused");

    let joined = events_of(s, "host.joined");
    assert_eq!(joined.len(), 2);
    assert_eq!(joined[0].summary, "host h1 joined (capacity 3)");
    assert_eq!(joined[0].payload["capacity"], 3);
    let ups = events_of(s, "host.up");
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].summary, "host h1 up (epoch 1, was down)");
    assert_eq!(events_of(s, "host.capacity").len(), 1);
    assert_eq!(
        events_of(s, "host.down")[0].summary,
        "host h1 down (epoch 1)"
    );
}

pub fn hosts_dead_and_fenced(s: &dyn Store) {
    s.add_host("h1", Some(2), "human").unwrap();
    s.add_host("h2", Some(2), "human").unwrap();
    s.add_host("h3", Some(2), "human").unwrap();
    s.host_up("h1", "deacon").unwrap();
    s.host_up("h2", "deacon").unwrap();
    // h3 stays down: a host down on purpose is never declared dead.
    assert!(s.declare_dead_hosts(NOW, "deacon").unwrap().is_empty());
    let dead = s.declare_dead_hosts(LATER, "h2").unwrap();
    let names: Vec<&str> = dead.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["h1", "h2"]);
    assert_eq!(s.get_host("h1").unwrap().state, HostState::Dead);
    assert_eq!(s.get_host("h3").unwrap().state, HostState::Down);
    assert!(
        s.declare_dead_hosts(LATER, "h2").unwrap().is_empty(),
        "once"
    );
    let evs = events_of(s, "host.dead");
    assert_eq!(evs.len(), 2);
    assert_eq!(
        evs[0].summary,
        format!("host h1 declared dead (last heartbeat {NOW}, epoch 1)")
    );
    // The dead host's daemon is fenced until it comes up again.
    assert_eq!(refusal(s.host_heartbeat("h1", 1)), "refused");
    assert_eq!(refusal(s.host_down("h1", 1, "deacon")), "refused");
    let back = s.host_up("h1", "deacon").unwrap();
    assert_eq!((back.state, back.epoch), (HostState::Up, 2));
    assert_eq!(refusal(s.host_heartbeat("h1", 1)), "refused", "old epoch");
    s.host_heartbeat("h1", 2).unwrap();
    assert_eq!(
        events_of(s, "host.up")[2].summary,
        "host h1 up (epoch 2, was dead)"
    );
}

pub fn hosts_run_sessions(s: &dyn Store) {
    let (b, sess) = hooked(s);
    assert_eq!(sess.host.as_deref(), Some("h1"));
    s.add_polecat("app", "max", "human").unwrap();
    let other = super::bead(s, "other");
    let mut req = hook_req(&other.id, "max", "gt-app-max");
    req.host = "h2";
    let on_h2 = s.hook(&req, "human").unwrap();
    assert_eq!(on_h2.host.as_deref(), Some("h2"));
    let of = |host: &str| -> Vec<String> {
        s.list_sessions(&SessionFilter {
            open_only: true,
            host: Some(host),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|x| x.bead)
        .collect()
    };
    assert_eq!(of("h1"), vec![b.id.clone()]);
    assert_eq!(of("h2"), vec![other.id.clone()]);
    assert!(of("h3").is_empty());
    let all = s.list_sessions(&SessionFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
}

/// A canonical time before [`NOW`]: a lease expiring then is over.
const EARLIER: &str = "2026-01-02T03:00:00.000000Z";

pub fn leases_have_one_holder(s: &dyn Store) {
    assert!(s.list_leases().unwrap().is_empty());
    let l = s.take_lease("refinery/app", "h1", LATER, "deacon").unwrap();
    assert_eq!(
        (
            l.holder.as_str(),
            l.epoch,
            l.taken_at.as_str(),
            l.expires_at.as_str()
        ),
        ("h1", 1, NOW, LATER)
    );
    // Another host is refused and nothing is written; the holder renews
    // without an event.
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.take_lease("refinery/app", "h2", LATER, "deacon")),
        "refused"
    );
    let renewed = s.take_lease("refinery/app", "h1", LATER, "deacon").unwrap();
    assert_eq!(renewed.epoch, 1);
    assert_eq!(all_events(s).len(), before);
    // Only the holder releases it; released, another host takes it.
    s.release_lease("refinery/app", "h2").unwrap();
    assert_eq!(s.list_leases().unwrap()[0].expires_at, LATER);
    s.release_lease("refinery/app", "h1").unwrap();
    s.release_lease("refinery/none", "h1").unwrap();
    let taken = s.take_lease("refinery/app", "h2", LATER, "deacon").unwrap();
    assert_eq!((taken.holder.as_str(), taken.epoch), ("h2", 2));
    // An expired lease is taken over as well.
    s.take_lease("refinery/web", "h1", EARLIER, "deacon")
        .unwrap();
    assert_eq!(
        s.take_lease("refinery/web", "h2", LATER, "deacon")
            .unwrap()
            .epoch,
        2
    );
    let names: Vec<(String, String)> = s
        .list_leases()
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.holder))
        .collect();
    assert_eq!(
        names,
        [
            ("refinery/app".to_string(), "h2".to_string()),
            ("refinery/web".to_string(), "h2".to_string())
        ]
    );
    let taken = events_of(s, "lease.taken");
    assert_eq!(taken.len(), 4);
    assert_eq!(taken[1].payload["from"], "h1");
    assert_eq!(
        taken[1].summary,
        "refinery/app taken by host h2 from h1 (epoch 2)"
    );
}

pub fn town_settings_are_stored_with_their_event(s: &dyn Store) {
    use gt_core::event::NewEvent;
    assert_eq!(s.town_settings().unwrap(), None);
    let ev = || NewEvent::new("config.set", "config deacon.interval = 5s");
    let doc = "[town]\nname = \"t\"\n\n[deacon]\ninterval = \"5s\"\n";
    s.set_town_settings(doc, None, ev(), "human").unwrap();
    assert_eq!(s.town_settings().unwrap().as_deref(), Some(doc));
    let set = events_of(s, "config.set");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].summary, "config deacon.interval = 5s");
    // Replaced whole, text kept byte for byte (comments, non-ASCII).
    let doc2 = "# ünïcode\n[town]\nname = \"t\"\n";
    s.set_town_settings(doc2, Some(doc), ev(), "human").unwrap();
    assert_eq!(s.town_settings().unwrap().as_deref(), Some(doc2));
    // Refusals write nothing.
    let before = all_events(s).len();
    let huge = "x".repeat(crate::host::MAX_TOWN_SETTINGS + 1);
    for bad in ["", "  \n", "a\0b", huge.as_str()] {
        assert_eq!(
            refusal(s.set_town_settings(bad, Some(doc2), ev(), "human")),
            "invalid"
        );
    }
    // A change based on settings that moved meanwhile (another host's
    // change came first) is refused: nothing is overwritten.
    for stale in [None, Some(doc)] {
        assert_eq!(
            refusal(s.set_town_settings("[town]\nname = \"x\"\n", stale, ev(), "human")),
            "refused"
        );
    }
    assert_eq!(all_events(s).len(), before);
    assert_eq!(s.town_settings().unwrap().as_deref(), Some(doc2));
}
