//! Beads, dependencies and the event log.

use gt_core::bead::{BeadFilter, BeadPatch, BeadRecord, DepType, Dependency, NewBead, Status};
use gt_core::event::{Event, EventQuery, NewEvent};
use serde_json::json;

use super::{all_events, bead, events_of, refusal, NOW, PREFIX};
use crate::Store;

/// The message of a result that must fail.
fn message<T: std::fmt::Debug>(r: gt_core::error::Result<T>) -> String {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// The one event of `kind`, newest (panics when there is none).
fn last_of(s: &dyn Store, kind: &str) -> Event {
    events_of(s, kind).pop().expect("an event of that kind")
}

pub fn beads_create_get_resolve(s: &dyn Store) {
    let mut nb = NewBead::new("first");
    nb.priority = Some(1);
    nb.labels = vec!["ui".into()];
    let b = s.create_bead(&nb, "human").unwrap();
    assert!(b.id.starts_with(&format!("{PREFIX}-")), "{}", b.id);
    assert_eq!((b.priority, b.status), (1, Status::Open));
    assert_eq!(b.created_at, NOW, "stamped with the store's clock");
    assert_eq!(b.labels, ["ui"]);
    assert_eq!(s.get_bead(&b.id).unwrap(), b);
    assert_eq!(s.resolve_bead_id(&b.id).unwrap(), b.id);
    let partial = &b.id[..b.id.len() - 2];
    assert_eq!(s.resolve_bead_id(partial).unwrap(), b.id);
    assert_eq!(events_of(s, "bead.created").len(), 1);
    let ev = last_of(s, "bead.created");
    assert_eq!(ev.summary, format!("created {}: first", b.id));
    assert_eq!(
        (ev.bead.as_deref(), ev.actor.as_str()),
        (Some(b.id.as_str()), "human")
    );
    assert_eq!(
        ev.payload,
        json!({ "title": "first", "priority": 1, "type": "task", "parent": null })
    );
    let mut child = NewBead::new("child");
    child.parent = Some(b.id.clone());
    let child = s.create_bead(&child, "human").unwrap();
    assert_eq!(child.parent.as_deref(), Some(b.id.as_str()));
    assert_eq!(last_of(s, "bead.created").payload["parent"], json!(b.id));
    assert_eq!(refusal(s.get_bead("ct-nope")), "not_found");
    assert_eq!(refusal(s.resolve_bead_id("ct-zzzzzz")), "not_found");
}

pub fn beads_create_refusals_write_nothing(s: &dyn Store) {
    let mut nb = NewBead::new("child");
    nb.parent = Some("ct-missing".into());
    assert_eq!(refusal(s.create_bead(&nb, "human")), "not_found");
    let mut nb = NewBead::new("dep");
    nb.deps = vec![(DepType::Blocks, "ct-missing".into())];
    assert_eq!(refusal(s.create_bead(&nb, "human")), "not_found");
    assert_eq!(
        refusal(s.create_bead(&NewBead::new(""), "human")),
        "invalid"
    );
    assert!(s.list_beads(&BeadFilter::default()).unwrap().is_empty());
    assert!(all_events(s).is_empty(), "a refusal appends no event");
}

pub fn beads_details_and_comments(s: &dyn Store) {
    let a = bead(s, "a");
    let b = bead(s, "b");
    s.add_dependency(&a.id, &b.id, DepType::Blocks, "human")
        .unwrap();
    let c = s
        .add_comment(&a.id, "human", "looks good", "human")
        .unwrap();
    assert_eq!(
        (c.text.as_str(), c.author.as_str()),
        ("looks good", "human")
    );
    let d = s.bead_details(&a.id).unwrap();
    assert_eq!(d.comments.len(), 1);
    assert_eq!(d.dependencies.len(), 1);
    assert!(d.blocked);
    assert_eq!(d.blocked_by, [b.id.as_str()]);
    assert_eq!(s.bead_details(&b.id).unwrap().dependents.len(), 1);
    assert_eq!(refusal(s.bead_details("ct-nope")), "not_found");
    assert_eq!(
        refusal(s.add_comment("ct-nope", "human", "x", "human")),
        "not_found"
    );
    assert_eq!(
        refusal(s.add_comment(&a.id, "human", "", "human")),
        "invalid"
    );
    assert_eq!(events_of(s, "bead.commented").len(), 1);
    let ev = last_of(s, "bead.commented");
    assert_eq!(ev.summary, format!("comment on {}: looks good", a.id));
    assert_eq!(ev.bead.as_deref(), Some(a.id.as_str()));
    assert_eq!(ev.payload, json!({ "comment": c.id, "author": "human" }));
    s.add_comment(&a.id, "human", "line one\nline two", "human")
        .unwrap();
    assert_eq!(
        last_of(s, "bead.commented").summary,
        format!("comment on {}: line one", a.id)
    );
}

pub fn beads_list_and_count(s: &dyn Store) {
    let a = bead(s, "a");
    bead(s, "b");
    s.close_bead(&a.id, None, "human").unwrap();
    assert_eq!(
        s.list_beads(&BeadFilter::default()).unwrap().len(),
        1,
        "closed hidden"
    );
    let all = BeadFilter {
        include_closed: true,
        ..Default::default()
    };
    assert_eq!(s.list_beads(&all).unwrap().len(), 2);
    let open = BeadFilter {
        statuses: vec![Status::Open],
        ..Default::default()
    };
    let listed = s.list_beads(&open).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].title, "b");
    let mut counts = s.count_by_status().unwrap();
    counts.sort();
    let statuses = counts.len();
    counts.dedup_by_key(|c| c.0);
    assert_eq!(counts.len(), statuses, "each status once");
    counts.retain(|c| c.1 > 0);
    assert_eq!(counts, [(Status::Open, 1), (Status::Closed, 1)]);
}

pub fn beads_update(s: &dyn Store) {
    let a = bead(s, "a");
    let patch = BeadPatch {
        title: Some("renamed".into()),
        priority: Some(0),
        add_labels: vec!["x".into()],
        ..Default::default()
    };
    let u = s.update_bead(&a.id, &patch, "human").unwrap();
    assert_eq!((u.title.as_str(), u.priority), ("renamed", 0));
    assert_eq!(u.labels, ["x"]);
    assert_eq!(s.get_bead(&a.id).unwrap(), u);
    assert_eq!(events_of(s, "bead.updated").len(), 1);
    let ev = last_of(s, "bead.updated");
    assert_eq!(
        ev.summary,
        format!("updated {}: add_labels, priority, title", a.id)
    );
    assert_eq!(ev.bead.as_deref(), Some(a.id.as_str()));
    assert_eq!(
        ev.payload,
        json!({ "title": "renamed", "priority": 0, "add_labels": ["x"] })
    );
    assert_eq!(
        refusal(s.update_bead("ct-nope", &patch, "human")),
        "not_found"
    );
    // An empty patch is refused before the id is looked up.
    for id in [a.id.as_str(), "ct-nope"] {
        assert_eq!(
            message(s.update_bead(id, &BeadPatch::default(), "human")),
            "nothing to update: give at least one field"
        );
    }
    let closing = BeadPatch {
        status: Some(Status::Closed),
        remove_labels: vec!["x".into()],
        ..Default::default()
    };
    let u = s.update_bead(&a.id, &closing, "human").unwrap();
    assert_eq!(
        (u.status, u.closed_at.as_deref()),
        (Status::Closed, Some(NOW))
    );
    assert!(u.labels.is_empty());
    assert_eq!(
        last_of(s, "bead.updated").payload,
        json!({ "status": "closed", "remove_labels": ["x"] })
    );
    let bad = BeadPatch {
        priority: Some(9),
        ..Default::default()
    };
    assert_eq!(refusal(s.update_bead(&a.id, &bad, "human")), "invalid");
    assert_eq!(s.get_bead(&a.id).unwrap().priority, 0);
}

pub fn beads_claim(s: &dyn Store) {
    let a = bead(s, "a");
    let c = s.claim_bead(&a.id, "app/nux", "app/nux").unwrap();
    assert_eq!(c.status, Status::InProgress);
    assert_eq!(c.assignee.as_deref(), Some("app/nux"));
    let ev = last_of(s, "bead.claimed");
    assert_eq!(ev.summary, format!("app/nux claimed {}", a.id));
    assert_eq!(ev.payload, json!({ "assignee": "app/nux" }));
    assert_eq!(
        refusal(s.claim_bead(&a.id, "app/max", "app/max")),
        "refused"
    );
    assert_eq!(
        message(s.claim_bead(&a.id, "app/max", "app/max")),
        format!("cannot claim {}: it is in_progress, not open", a.id)
    );
    assert_eq!(
        s.get_bead(&a.id).unwrap().assignee.as_deref(),
        Some("app/nux")
    );
    let b = bead(s, "b");
    s.close_bead(&b.id, None, "human").unwrap();
    assert_eq!(refusal(s.claim_bead(&b.id, "app/nux", "human")), "refused");
    assert_eq!(
        refusal(s.claim_bead("ct-nope", "app/nux", "human")),
        "not_found"
    );
    assert_eq!(events_of(s, "bead.claimed").len(), 1);
}

pub fn beads_close_and_reopen(s: &dyn Store) {
    let a = bead(s, "a");
    let c = s.close_bead(&a.id, Some("done"), "human").unwrap();
    assert_eq!(c.status, Status::Closed);
    assert_eq!(c.close_reason.as_deref(), Some("done"));
    assert_eq!(c.closed_at.as_deref(), Some(NOW));
    let ev = last_of(s, "bead.closed");
    assert_eq!(ev.summary, format!("closed {}: done", a.id));
    assert_eq!(ev.payload, json!({ "reason": "done" }));
    assert_eq!(
        message(s.close_bead(&a.id, None, "human")),
        format!("{} is already closed", a.id)
    );
    let r = s.reopen_bead(&a.id, "human").unwrap();
    assert_eq!((r.status, r.closed_at), (Status::Open, None));
    assert_eq!(r.close_reason, None);
    assert_eq!(
        last_of(s, "bead.reopened").summary,
        format!("reopened {}", a.id)
    );
    assert_eq!(refusal(s.reopen_bead(&a.id, "human")), "refused");
    assert_eq!(
        message(s.reopen_bead(&a.id, "human")),
        format!("{} is not closed (it is open)", a.id)
    );
    // A reason too long is refused before the id is looked up.
    let long = "x".repeat(64 * 1024 + 1);
    for id in [a.id.as_str(), "ct-nope"] {
        assert_eq!(
            message(s.close_bead(id, Some(&long), "human")),
            "close reason is too long (64 KiB at most)"
        );
    }
    assert_eq!(s.get_bead(&a.id).unwrap().status, Status::Open);
    assert_eq!(refusal(s.close_bead("ct-nope", None, "human")), "not_found");
    assert_eq!(refusal(s.reopen_bead("ct-nope", "human")), "not_found");
    assert_eq!(events_of(s, "bead.closed").len(), 1);
    assert_eq!(events_of(s, "bead.reopened").len(), 1);
    s.close_bead(&a.id, None, "human").unwrap();
    let ev = last_of(s, "bead.closed");
    assert_eq!(ev.summary, format!("closed {}", a.id));
    assert_eq!(ev.payload, json!({ "reason": null }));
}

pub fn beads_dependencies_and_cycles(s: &dyn Store) {
    let a = bead(s, "a");
    let b = bead(s, "b");
    let c = bead(s, "c");
    let d = s
        .add_dependency(&a.id, &b.id, DepType::Blocks, "human")
        .unwrap();
    assert_eq!(
        (d.dep_type, d.depends_on.as_str()),
        (DepType::Blocks, b.id.as_str())
    );
    let ev = last_of(s, "bead.dep_added");
    assert_eq!(ev.summary, format!("{} depends on {} (blocks)", a.id, b.id));
    assert_eq!(ev.bead.as_deref(), Some(a.id.as_str()));
    assert_eq!(ev.payload, json!({ "depends_on": b.id, "type": "blocks" }));
    s.add_dependency(&b.id, &c.id, DepType::Blocks, "human")
        .unwrap();
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.add_dependency(&c.id, &a.id, DepType::Blocks, "human")),
        "cycle"
    );
    assert_eq!(
        message(s.add_dependency(&c.id, &a.id, DepType::ParentChild, "human")),
        format!(
            "dependency cycle: {} -> {} -> {} -> {}",
            c.id, a.id, b.id, c.id
        )
    );
    assert_eq!(
        refusal(s.add_dependency(&a.id, &a.id, DepType::Blocks, "human")),
        "invalid"
    );
    assert_eq!(
        message(s.add_dependency(&a.id, &a.id, DepType::Related, "human")),
        format!("a bead cannot depend on itself ({})", a.id)
    );
    assert_eq!(
        message(s.add_dependency(&a.id, &b.id, DepType::Blocks, "human")),
        format!("{} already depends on {} (blocks)", a.id, b.id)
    );
    assert_eq!(all_events(s).len(), before, "refusals append nothing");
    // A related edge closes no cycle.
    s.add_dependency(&c.id, &a.id, DepType::Related, "human")
        .unwrap();
    let p = bead(s, "p");
    s.add_dependency(&c.id, &p.id, DepType::ParentChild, "human")
        .unwrap();
    // The one-parent refusal comes before the cycle one.
    assert_eq!(
        message(s.add_dependency(&c.id, &a.id, DepType::ParentChild, "human")),
        format!(
            "{} already has parent {}; remove that dependency first",
            c.id, p.id
        )
    );
    let mut orphan = NewBead::new("orphan");
    orphan.parent = Some(b.id.clone());
    orphan.deps = vec![(DepType::ParentChild, c.id.clone())];
    assert_eq!(refusal(s.create_bead(&orphan, "human")), "refused");
    assert_eq!(s.remove_dependency(&c.id, &p.id, None, "human").unwrap(), 1);
    assert_eq!(s.remove_dependency(&c.id, &a.id, None, "human").unwrap(), 1);
    let before = all_events(s).len();
    assert_eq!(
        refusal(s.add_dependency(&a.id, "ct-nope", DepType::Blocks, "human")),
        "not_found"
    );
    assert_eq!(all_events(s).len(), before, "refusals append nothing");
    let up = s.dep_tree(&a.id, true, 10).unwrap();
    assert_eq!(up.id, a.id);
    assert_eq!(up.children.len(), 1);
    assert_eq!(up.children[0].children[0].id, c.id);
    let down = s.dep_tree(&c.id, false, 10).unwrap();
    assert_eq!(down.children[0].id, b.id);
    assert_eq!(refusal(s.dep_tree("ct-nope", true, 10)), "not_found");
    assert_eq!(s.remove_dependency(&a.id, &b.id, None, "human").unwrap(), 1);
    let ev = last_of(s, "bead.dep_removed");
    assert_eq!(
        ev.summary,
        format!("{} no longer depends on {}", a.id, b.id)
    );
    assert_eq!(ev.bead.as_deref(), Some(a.id.as_str()));
    assert_eq!(ev.payload, json!({ "depends_on": b.id, "type": null }));
    assert_eq!(
        refusal(s.remove_dependency(&a.id, &b.id, Some(DepType::Blocks), "human")),
        "not_found",
        "no such edge"
    );
    assert_eq!(events_of(s, "bead.dep_removed").len(), 3);
    s.remove_dependency(&b.id, &c.id, Some(DepType::Blocks), "human")
        .unwrap();
    assert_eq!(
        last_of(s, "bead.dep_removed").payload,
        json!({ "depends_on": c.id, "type": "blocks" })
    );
}

pub fn beads_ready_and_blocked(s: &dyn Store) {
    let a = bead(s, "a");
    let b = bead(s, "b");
    s.add_dependency(&a.id, &b.id, DepType::Blocks, "human")
        .unwrap();
    let ready: Vec<String> = s
        .ready_beads(10)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ready, [b.id.as_str()]);
    let blocked = s.blocked_beads(None).unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].bead.id, a.id);
    assert_eq!(blocked[0].blocked_by, [b.id.as_str()]);
    // The scheduler's question agrees with the details.
    assert!(s.is_blocked(&a.id).unwrap());
    assert!(s.bead_details(&a.id).unwrap().blocked);
    assert!(!s.is_blocked(&b.id).unwrap());
    assert!(
        !s.is_blocked("ct-nope").unwrap(),
        "no such bead: not blocked"
    );
    s.close_bead(&b.id, None, "human").unwrap();
    assert!(!s.is_blocked(&a.id).unwrap());
    let ready: Vec<String> = s
        .ready_beads(10)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ready, [a.id.as_str()]);
    assert!(s.blocked_beads(Some(5)).unwrap().is_empty());
    assert!(s.ready_beads(0).unwrap().is_empty());

    // Many open children of a blocked parent come first by priority but are
    // not ready (their block is inherited): a backend that reads candidates
    // in pages must keep reading past them to find the ready ones.
    let parent = s
        .create_bead(
            &NewBead {
                priority: Some(0),
                ..NewBead::new("epic")
            },
            "human",
        )
        .unwrap();
    let blocker = bead(s, "blocker");
    s.add_dependency(&parent.id, &blocker.id, DepType::Blocks, "human")
        .unwrap();
    for i in 0..150 {
        s.create_bead(
            &NewBead {
                priority: Some(0),
                parent: Some(parent.id.clone()),
                ..NewBead::new(format!("child {i}"))
            },
            "human",
        )
        .unwrap();
    }
    // (Same priority and time: their order is that of their random ids.)
    let mut ready: Vec<String> = s
        .ready_beads(3)
        .unwrap()
        .into_iter()
        .map(|b| b.title)
        .collect();
    ready.sort();
    assert_eq!(ready, ["a", "blocker"]);
    // A child inherits its parent's block.
    let child = s
        .create_bead(
            &NewBead {
                parent: Some(parent.id.clone()),
                ..NewBead::new("one more child")
            },
            "human",
        )
        .unwrap();
    assert!(s.is_blocked(&child.id).unwrap());
    assert_eq!(
        s.is_blocked(&child.id).unwrap(),
        s.bead_details(&child.id).unwrap().blocked
    );
}

pub fn beads_import_and_export(s: &dyn Store) {
    let a = bead(s, "a");
    let b = bead(s, "b");
    s.add_dependency(&a.id, &b.id, DepType::Related, "human")
        .unwrap();
    s.add_comment(&a.id, "human", "note", "human").unwrap();
    let mut exported: Vec<BeadRecord> = Vec::new();
    s.export_records(&mut |r| {
        exported.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported[0].bead.id < exported[1].bead.id, "ordered by id");
    let rec_a = exported.iter().find(|r| r.bead.id == a.id).unwrap();
    assert_eq!((rec_a.dependencies.len(), rec_a.comments.len()), (1, 1));
    let mut changed = exported.clone();
    changed[0].bead.title = "imported title".into();
    let mut new = exported[1].clone();
    new.bead.id = "ct-imported1".into();
    new.dependencies.clear();
    changed.push(new);
    let counts = s
        .import_records(&changed, NewEvent::new("bead.imported", "3 beads"), "human")
        .unwrap();
    assert_eq!((counts.created, counts.updated), (1, 2));
    assert_eq!(
        s.get_bead(&changed[0].bead.id).unwrap().title,
        "imported title"
    );
    assert_eq!(
        s.get_bead("ct-imported1").unwrap().title,
        exported[1].bead.title
    );
    assert_eq!(events_of(s, "bead.imported").len(), 1);
    let ev = last_of(s, "bead.imported");
    assert_eq!(ev.summary, "3 beads");
    assert_eq!(
        ev.payload,
        json!({ "counts": {
            "created": 1, "updated": 2, "dependencies": 0,
            "dangling_dependencies": 0, "comments": exported[1].comments.len(),
        } })
    );
    // The same cycle rule as `dep add`, over the edges imported so far.
    let mut x = changed[2].clone();
    x.bead.id = "ct-cyclex".into();
    let mut y = x.clone();
    y.bead.id = "ct-cycley".into();
    let edge = |from: &str, to: &str| Dependency {
        bead: from.into(),
        depends_on: to.into(),
        dep_type: DepType::Blocks,
        created_at: NOW.into(),
        created_by: None,
    };
    x.dependencies = vec![edge("ct-cyclex", "ct-cycley")];
    y.dependencies = vec![edge("ct-cycley", "ct-cyclex")];
    assert_eq!(
        message(s.import_records(&[x, y], NewEvent::new("bead.imported", "2"), "human")),
        "dependency cycle: ct-cycley -> ct-cyclex -> ct-cycley"
    );
    assert_eq!(refusal(s.get_bead("ct-cyclex")), "not_found");
    // Edges to the bead itself or to no bead are skipped and counted.
    let mut z = changed[2].clone();
    z.bead.id = "ct-dangles".into();
    z.comments.clear();
    z.dependencies = vec![
        edge("ct-dangles", "ct-dangles"),
        edge("ct-dangles", "ct-nowhere"),
    ];
    let counts = s
        .import_records(&[z], NewEvent::new("bead.imported", "1"), "human")
        .unwrap();
    assert_eq!(
        (
            counts.created,
            counts.dangling_dependencies,
            counts.dependencies
        ),
        (1, 2, 0)
    );
    assert!(s
        .bead_details("ct-dangles")
        .unwrap()
        .dependencies
        .is_empty());
    // All or nothing: one record the store cannot hold rolls back the batch.
    let mut good = changed[2].clone();
    good.bead.id = "ct-imported2".into();
    let mut bad = changed[2].clone();
    bad.bead.id = "ct-imported3".into();
    bad.bead.priority = 9;
    assert!(s
        .import_records(&[good, bad], NewEvent::new("bead.imported", "2"), "human")
        .is_err());
    assert_eq!(refusal(s.get_bead("ct-imported2")), "not_found");
    assert_eq!(events_of(s, "bead.imported").len(), 2);
}

pub fn events_append_and_query(s: &dyn Store) {
    let e = s
        .append_event(
            NewEvent::new("town.created", "town t created").rig("app"),
            "human",
        )
        .unwrap();
    assert_eq!(
        (e.kind.as_str(), e.actor.as_str(), e.time.as_str()),
        ("town.created", "human", NOW)
    );
    assert_eq!(e.rig.as_deref(), Some("app"));
    s.append_event(NewEvent::new("config.set", "k = v"), "app/nux")
        .unwrap();
    let all = s.events(&EventQuery::default()).unwrap();
    assert_eq!(all.len(), 2);
    let by_actor = s
        .events(&EventQuery {
            actor: Some("app/nux".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_actor.len(), 1);
    let newest = s
        .events(&EventQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(newest[0].kind, "config.set");
    // Events are never refused by the store (kinds and actors are the
    // callers' to check); an empty query window is empty.
    let none = s
        .events(&EventQuery {
            since: Some("2999-01-01T00:00:00.000000Z".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
}

pub fn events_record_their_source(s: &dyn Store) {
    // By default no source.
    let a = s
        .create_bead(&NewBead::new("from the command line"), "human")
        .unwrap();
    assert_eq!(last_of(s, "bead.created").source, None);
    // A source set on the handle is on every event it appends, written by
    // a change or on its own, and read back the same.
    s.set_source(Some("dashboard")).unwrap();
    let b = s
        .create_bead(&NewBead::new("from the web"), "human")
        .unwrap();
    let ev = last_of(s, "bead.created");
    assert_eq!(
        (ev.bead.as_deref(), ev.source.as_deref()),
        (Some(b.id.as_str()), Some("dashboard"))
    );
    let own = s
        .append_event(NewEvent::new("config.set", "set x"), "human")
        .unwrap();
    assert_eq!(own.source.as_deref(), Some("dashboard"));
    let read = s.events(&EventQuery::default()).unwrap();
    let own_read = read.iter().find(|e| e.id == own.id).unwrap();
    assert_eq!(own_read.source.as_deref(), Some("dashboard"));
    assert_eq!(
        s.events_after(0, 100)
            .unwrap()
            .iter()
            .filter(|e| e.source.is_some())
            .count(),
        2
    );
    // Unset again; a hostile source is refused and changes nothing.
    assert_eq!(refusal(s.set_source(Some("bad\nsource"))), "invalid");
    s.set_source(None).unwrap();
    s.close_bead(&a.id, None, "human").unwrap();
    assert_eq!(last_of(s, "bead.closed").source, None);
}

pub fn events_record_their_host(s: &dyn Store) {
    // By default no host (a one-machine town).
    s.create_bead(&NewBead::new("before"), "human").unwrap();
    assert_eq!(last_of(s, "bead.created").host, None);
    // A host set on the handle is on every event it appends, with or
    // without a source, written by a change or on its own.
    s.set_host(Some("host-a")).unwrap();
    let b = s.create_bead(&NewBead::new("on a"), "human").unwrap();
    let ev = last_of(s, "bead.created");
    assert_eq!(
        (ev.bead.as_deref(), ev.host.as_deref(), ev.source.as_deref()),
        (Some(b.id.as_str()), Some("host-a"), None)
    );
    s.set_source(Some("dashboard")).unwrap();
    let own = s
        .append_event(NewEvent::new("config.set", "set x"), "human")
        .unwrap();
    assert_eq!(
        (own.host.as_deref(), own.source.as_deref()),
        (Some("host-a"), Some("dashboard"))
    );
    let read = s.events_after(own.id - 1, 10).unwrap();
    assert_eq!(read[0].host.as_deref(), Some("host-a"));
    s.set_source(None).unwrap();
    // A hostile host name is refused and changes nothing.
    assert_eq!(refusal(s.set_host(Some("bad host\n"))), "invalid");
    s.close_bead(&b.id, None, "human").unwrap();
    assert_eq!(last_of(s, "bead.closed").host.as_deref(), Some("host-a"));
    s.set_host(None).unwrap();
    s.reopen_bead(&b.id, "human").unwrap();
    assert_eq!(last_of(s, "bead.reopened").host, None);
}

pub fn counts_by_status_follow_every_change(s: &dyn Store) {
    use std::collections::BTreeMap;
    // What count_by_status says must be what the beads say, after any mix
    // of creates, updates, claims, closes, reopens and imports.
    let check = |s: &dyn Store, when: &str| {
        let all = s
            .list_beads(&BeadFilter {
                include_closed: true,
                ..Default::default()
            })
            .unwrap();
        let mut want: BTreeMap<Status, u64> = BTreeMap::new();
        for b in &all {
            *want.entry(b.status).or_default() += 1;
        }
        let got: BTreeMap<Status, u64> = s
            .count_by_status()
            .unwrap()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(got, want, "after {when}");
    };
    check(s, "nothing");
    // A fixed pseudo-random walk (the same on every backend).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut ids: Vec<String> = Vec::new();
    for step in 0..120 {
        match next(6) {
            0 | 1 => ids.push(bead(s, &format!("b{step}")).id),
            2 if !ids.is_empty() => {
                let id = &ids[next(ids.len())];
                let _ = s.close_bead(id, Some("done"), "human");
            }
            3 if !ids.is_empty() => {
                let id = &ids[next(ids.len())];
                let _ = s.reopen_bead(id, "human");
            }
            4 if !ids.is_empty() => {
                let id = &ids[next(ids.len())];
                let _ = s.claim_bead(id, "r/nux", "human");
            }
            5 if !ids.is_empty() => {
                let id = &ids[next(ids.len())];
                let patch = BeadPatch {
                    status: Some(if next(2) == 0 {
                        Status::Deferred
                    } else {
                        Status::Open
                    }),
                    ..Default::default()
                };
                let _ = s.update_bead(id, &patch, "human");
            }
            _ => {}
        }
        if step % 20 == 19 {
            check(s, &format!("step {step}"));
        }
    }
    // An import that adds and overwrites beads (status changes included).
    let mut records: Vec<BeadRecord> = Vec::new();
    s.export_records(&mut |r| {
        records.push(r);
        Ok(())
    })
    .unwrap();
    for r in records.iter_mut().take(10) {
        r.bead.status = Status::Closed;
        r.bead.closed_at = Some(NOW.to_string());
    }
    let mut fresh = records[0].clone();
    fresh.bead.id = format!("{PREFIX}-imported1");
    fresh.bead.status = Status::Deferred;
    fresh.bead.closed_at = None;
    fresh.dependencies.clear();
    fresh.comments.clear();
    records.push(fresh);
    s.import_records(&records, NewEvent::new("bead.imported", "import"), "human")
        .unwrap();
    check(s, "an import");
}

pub fn beads_each_streams_the_list(s: &dyn Store) {
    for i in 0..30 {
        let b = bead(s, &format!("bead {i}"));
        if i % 3 == 0 {
            s.close_bead(&b.id, None, "human").unwrap();
        }
    }
    for f in [
        BeadFilter::default(),
        BeadFilter {
            include_closed: true,
            ..Default::default()
        },
        BeadFilter {
            statuses: vec![Status::Closed],
            limit: Some(4),
            ..Default::default()
        },
    ] {
        let mut streamed = Vec::new();
        s.each_bead(&f, &mut |b| {
            streamed.push(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed, s.list_beads(&f).unwrap(), "{f:?}");
    }
    // The sink's error stops the stream and comes back.
    let mut seen = 0;
    let r = s.each_bead(&BeadFilter::default(), &mut |_| {
        seen += 1;
        if seen == 3 {
            return Err(gt_core::error::Error::invalid("enough"));
        }
        Ok(())
    });
    assert_eq!(refusal(r), "invalid");
    assert_eq!(seen, 3);
}
