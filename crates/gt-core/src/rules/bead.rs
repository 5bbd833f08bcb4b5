//! Rules for beads: create, claim, close, reopen, update, comments,
//! dependencies and the import summary.

use serde_json::json;

use crate::bead::{
    Bead, BeadPatch, BeadType, DepType, Dependency, ImportCounts, NewBead, Status,
    DEFAULT_PRIORITY, MAX_COMMENT_BYTES,
};
use crate::error::{Error, Result};
use crate::event::{kind, NewEvent};

/// `gt bead create`: the row of a new bead `id` (open, created by `actor` at
/// `now`). Labels and edges are written after it.
pub fn create(new: &NewBead, id: &str, actor: &str, now: &str) -> Bead {
    Bead {
        id: id.to_string(),
        title: new.title.clone(),
        description: new.description.clone(),
        status: new.status.unwrap_or(Status::Open),
        priority: new.priority.unwrap_or(DEFAULT_PRIORITY),
        bead_type: new.bead_type.unwrap_or(BeadType::Task),
        assignee: new.assignee.clone(),
        labels: vec![],
        parent: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        closed_at: None,
        close_reason: None,
        created_by: Some(actor.to_string()),
        metadata: new.metadata.clone(),
    }
}

/// The `bead.created` event of `b`, created under the resolved `parent`.
pub fn created_event(b: &Bead, parent: Option<&str>) -> NewEvent {
    NewEvent::new(kind::BEAD_CREATED, format!("created {}: {}", b.id, b.title))
        .bead(&b.id)
        .payload(json!({
            "title": b.title,
            "priority": b.priority,
            "type": b.bead_type,
            "parent": parent,
        }))
}

/// `gt bead claim`: an open bead, unassigned or already `assignee`'s, becomes
/// `in_progress` and `assignee`'s.
pub fn claim(b: &mut Bead, assignee: &str, now: &str) -> Result<NewEvent> {
    if b.status != Status::Open {
        return Err(Error::refused(format!(
            "cannot claim {}: it is {}, not open",
            b.id, b.status
        )));
    }
    if let Some(holder) = b.assignee.as_deref().filter(|h| *h != assignee) {
        return Err(Error::refused(format!(
            "cannot claim {}: already assigned to {holder}",
            b.id
        )));
    }
    b.assignee = Some(assignee.to_string());
    b.set_status(Status::InProgress, now);
    Ok(
        NewEvent::new(kind::BEAD_CLAIMED, format!("{assignee} claimed {}", b.id))
            .payload(json!({ "assignee": assignee })),
    )
}

/// `gt bead update`, before any row is read: a valid patch that changes
/// something.
pub fn check_patch(patch: &BeadPatch) -> Result<()> {
    patch.validate()?;
    if patch.is_empty() {
        return Err(Error::invalid("nothing to update: give at least one field"));
    }
    Ok(())
}

/// `gt bead update`: applies `patch` to `b` (labels too: the backend writes
/// them to its own table) and returns the `bead.updated` event naming the
/// changed fields.
pub fn update(b: &mut Bead, patch: &BeadPatch, now: &str) -> NewEvent {
    let mut changed = serde_json::Map::new();
    if let Some(t) = &patch.title {
        b.title = t.clone();
        changed.insert("title".into(), json!(t));
    }
    if let Some(d) = &patch.description {
        b.description = d.clone();
        changed.insert("description".into(), json!(d.chars().count()));
    }
    if let Some(s) = patch.status {
        b.set_status(s, now);
        changed.insert("status".into(), json!(s));
    }
    if let Some(p) = patch.priority {
        b.priority = p;
        changed.insert("priority".into(), json!(p));
    }
    if let Some(a) = &patch.assignee {
        b.assignee = a.clone();
        changed.insert("assignee".into(), json!(a));
    }
    for l in &patch.add_labels {
        if !b.labels.contains(l) {
            b.labels.push(l.clone());
        }
    }
    b.labels.retain(|l| !patch.remove_labels.contains(l));
    b.labels.sort();
    if !patch.add_labels.is_empty() {
        changed.insert("add_labels".into(), json!(patch.add_labels));
    }
    if !patch.remove_labels.is_empty() {
        changed.insert("remove_labels".into(), json!(patch.remove_labels));
    }
    for (k, v) in &patch.metadata {
        if v.is_null() {
            b.metadata.remove(k);
        } else {
            b.metadata.insert(k.clone(), v.clone());
        }
    }
    if !patch.metadata.is_empty() {
        changed.insert("metadata".into(), json!(patch.metadata));
    }
    let fields: Vec<&str> = changed.keys().map(String::as_str).collect();
    NewEvent::new(
        kind::BEAD_UPDATED,
        format!("updated {}: {}", b.id, fields.join(", ")),
    )
    .payload(serde_json::Value::Object(changed))
}

/// `gt bead close`, before any row is read: a close reason fits a comment.
pub fn check_close_reason(reason: Option<&str>) -> Result<()> {
    if let Some(r) = reason {
        crate::bead::refuse_nul("the close reason", r)?;
        if r.len() > MAX_COMMENT_BYTES {
            return Err(Error::invalid("close reason is too long (64 KiB at most)"));
        }
    }
    Ok(())
}

/// `gt bead close`: a bead not yet closed becomes `closed`, with `reason`.
pub fn close(b: &mut Bead, reason: Option<&str>, now: &str) -> Result<NewEvent> {
    if b.status == Status::Closed {
        return Err(Error::refused(format!("{} is already closed", b.id)));
    }
    b.set_status(Status::Closed, now);
    b.close_reason = reason.map(str::to_string);
    Ok(NewEvent::new(
        kind::BEAD_CLOSED,
        match reason {
            Some(r) => format!("closed {}: {r}", b.id),
            None => format!("closed {}", b.id),
        },
    )
    .payload(json!({ "reason": reason })))
}

/// `gt bead reopen`: a closed bead becomes `open` again.
pub fn reopen(b: &mut Bead, now: &str) -> Result<NewEvent> {
    if b.status != Status::Closed {
        return Err(Error::refused(format!(
            "{} is not closed (it is {})",
            b.id, b.status
        )));
    }
    b.set_status(Status::Open, now);
    Ok(NewEvent::new(
        kind::BEAD_REOPENED,
        format!("reopened {}", b.id),
    ))
}

/// The `bead.commented` event of comment `comment` by `author` on `bead`:
/// the summary quotes the first line, 80 characters at most.
pub fn commented_event(bead: &str, comment: i64, author: &str, text: &str) -> NewEvent {
    let first_line: String = text.lines().next().unwrap_or("").chars().take(80).collect();
    NewEvent::new(
        kind::BEAD_COMMENTED,
        format!("comment on {bead}: {first_line}"),
    )
    .bead(bead)
    .payload(json!({ "comment": comment, "author": author }))
}

/// A new edge, before anything is read: a bead cannot depend on itself.
pub fn check_dep_ends(dep: &Dependency) -> Result<()> {
    if dep.bead == dep.depends_on {
        return Err(Error::invalid(format!(
            "a bead cannot depend on itself ({})",
            dep.bead
        )));
    }
    Ok(())
}

/// A new `parent-child` edge: refused when the bead already has a parent
/// (`existing`, read by the backend; ignored for other types).
pub fn check_parent(dep: &Dependency, existing: Option<&str>) -> Result<()> {
    match existing {
        Some(p) if dep.dep_type == DepType::ParentChild => Err(Error::refused(format!(
            "{} already has parent {p}; remove that dependency first",
            dep.bead
        ))),
        _ => Ok(()),
    }
}

/// A new structural edge `bead -> depends_on`: refused when the backend found
/// a `path` of structural edges `depends_on -> ... -> bead` (so the edge would
/// close a cycle). Edges of other types make no cycle.
pub fn check_cycle(dep: &Dependency, path: Option<Vec<String>>) -> Result<()> {
    match path {
        Some(path) if dep.dep_type.is_structural() => {
            let mut cycle = vec![dep.bead.clone()];
            cycle.extend(path);
            Err(Error::Cycle(cycle.join(" -> ")))
        }
        _ => Ok(()),
    }
}

/// A new edge after its insert: refused when the insert added nothing (the
/// same edge exists).
pub fn check_inserted(dep: &Dependency, inserted: bool) -> Result<()> {
    if inserted {
        return Ok(());
    }
    Err(Error::refused(format!(
        "{} already depends on {} ({})",
        dep.bead, dep.depends_on, dep.dep_type
    )))
}

/// The `bead.dep_added` event of `dep`.
pub fn dep_added_event(dep: &Dependency) -> NewEvent {
    NewEvent::new(
        kind::DEP_ADDED,
        format!(
            "{} depends on {} ({})",
            dep.bead, dep.depends_on, dep.dep_type
        ),
    )
    .bead(&dep.bead)
    .payload(json!({ "depends_on": dep.depends_on, "type": dep.dep_type }))
}

/// The `bead.dep_removed` event of the edges `from -> to` (of `dep_type`, or
/// of every type) just removed.
pub fn dep_removed_event(from: &str, to: &str, dep_type: Option<DepType>) -> NewEvent {
    NewEvent::new(
        kind::DEP_REMOVED,
        format!("{from} no longer depends on {to}"),
    )
    .bead(from)
    .payload(json!({ "depends_on": to, "type": dep_type }))
}

/// An imported edge is dangling (skipped and counted) when it points at its
/// own bead or at a bead neither imported nor in the ledger (`target_exists`).
pub fn import_edge_dangles(dep: &Dependency, target_exists: bool) -> bool {
    dep.bead == dep.depends_on || !target_exists
}

/// The import's `summary` event (built by the caller) with what the import
/// did added to its payload as `counts` (when the payload is an object).
pub fn imported_event(summary: &NewEvent, counts: &ImportCounts) -> NewEvent {
    let mut ev = summary.clone();
    if let serde_json::Value::Object(m) = &mut ev.payload {
        m.insert("counts".into(), json!(counts));
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::fixtures::{bead, T0};

    const NOW: &str = "2026-01-02T00:00:00.000Z";

    fn edge(from: &str, to: &str, t: DepType) -> Dependency {
        Dependency {
            bead: from.into(),
            depends_on: to.into(),
            dep_type: t,
            created_at: NOW.into(),
            created_by: Some("ann".into()),
        }
    }

    #[test]
    fn create_makes_an_open_bead_with_defaults_and_its_event() {
        let mut new = NewBead::new("fix it");
        new.assignee = Some("ann".into());
        let b = create(&new, "gt-1", "bob", NOW);
        assert_eq!(b.status, Status::Open);
        assert_eq!(b.priority, DEFAULT_PRIORITY);
        assert_eq!(b.bead_type, BeadType::Task);
        assert_eq!(b.assignee.as_deref(), Some("ann"));
        assert_eq!(b.created_by.as_deref(), Some("bob"));
        assert_eq!((b.created_at.as_str(), b.updated_at.as_str()), (NOW, NOW));
        assert_eq!(b.closed_at, None);

        new.priority = Some(0);
        new.bead_type = Some(BeadType::Bug);
        let b = create(&new, "gt-2", "bob", NOW);
        assert_eq!((b.priority, b.bead_type), (0, BeadType::Bug));
        let ev = created_event(&b, Some("gt-1"));
        assert_eq!(ev.kind, kind::BEAD_CREATED);
        assert_eq!(ev.summary, "created gt-2: fix it");
        assert_eq!(ev.bead.as_deref(), Some("gt-2"));
        assert_eq!(
            ev.payload,
            json!({ "title": "fix it", "priority": 0, "type": "bug", "parent": "gt-1" })
        );
        assert_eq!(created_event(&b, None).payload["parent"], json!(null));
    }

    #[test]
    fn claim_takes_an_open_bead_and_refuses_a_held_one() {
        let mut b = bead("gt-1", Status::Open);
        let ev = claim(&mut b, "ann", NOW).unwrap();
        assert_eq!(b.status, Status::InProgress);
        assert_eq!(b.assignee.as_deref(), Some("ann"));
        assert_eq!(ev.kind, kind::BEAD_CLAIMED);
        assert_eq!(ev.summary, "ann claimed gt-1");
        assert_eq!(ev.payload, json!({ "assignee": "ann" }));

        let before = b.clone();
        let err = claim(&mut b, "bob", "now").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot claim gt-1: it is in_progress, not open"
        );
        assert_eq!(b, before, "a refusal changes nothing");
        let mut held = bead("gt-2", Status::Open);
        held.assignee = Some("ann".into());
        let before = held.clone();
        let err = claim(&mut held, "bob", "now").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot claim gt-2: already assigned to ann"
        );
        assert_eq!(held, before, "a refusal changes nothing");
        // Its own holder may claim it again.
        claim(&mut held, "ann", NOW).unwrap();
        assert_eq!(held.status, Status::InProgress);
    }

    #[test]
    fn check_patch_refuses_an_empty_or_invalid_patch() {
        let err = check_patch(&BeadPatch::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nothing to update: give at least one field"
        );
        assert!(matches!(err, Error::Invalid(_)));
        let bad = BeadPatch {
            title: Some(String::new()),
            ..Default::default()
        };
        assert!(check_patch(&bad).is_err());
        let ok = BeadPatch {
            priority: Some(1),
            ..Default::default()
        };
        check_patch(&ok).unwrap();
    }

    #[test]
    fn update_applies_the_patch_and_names_the_fields() {
        let mut b = bead("gt-1", Status::Open);
        b.labels = vec!["a".into(), "old".into()];
        b.metadata.insert("gone".into(), json!(1));
        let patch = BeadPatch {
            title: Some("new title".into()),
            description: Some("héllo".into()),
            status: Some(Status::Closed),
            priority: Some(1),
            assignee: Some(None),
            add_labels: vec!["b".into(), "a".into()],
            remove_labels: vec!["old".into()],
            metadata: [
                ("k".to_string(), json!("v")),
                ("gone".to_string(), json!(null)),
            ]
            .into_iter()
            .collect(),
        };
        let ev = update(&mut b, &patch, NOW);
        assert_eq!(b.title, "new title");
        assert_eq!(b.description, "héllo");
        assert_eq!(b.status, Status::Closed);
        assert_eq!(b.closed_at.as_deref(), Some(NOW));
        assert_eq!(b.priority, 1);
        assert_eq!(b.assignee, None);
        assert_eq!(b.labels, ["a", "b"]);
        assert_eq!(b.metadata.get("k"), Some(&json!("v")));
        assert!(!b.metadata.contains_key("gone"));
        assert_eq!(ev.kind, kind::BEAD_UPDATED);
        assert_eq!(
            ev.summary,
            "updated gt-1: add_labels, assignee, description, metadata, priority, \
             remove_labels, status, title"
        );
        assert_eq!(ev.payload["description"], json!(5), "characters, not bytes");
        assert_eq!(ev.payload["status"], json!("closed"));
        assert_eq!(ev.payload["assignee"], json!(null));
        assert_eq!(ev.payload["add_labels"], json!(["b", "a"]));
        assert_eq!(ev.payload["metadata"], json!({ "gone": null, "k": "v" }));

        let mut b = bead("gt-2", Status::Open);
        let ev = update(
            &mut b,
            &BeadPatch {
                priority: Some(3),
                ..Default::default()
            },
            NOW,
        );
        assert_eq!(ev.summary, "updated gt-2: priority");
        assert_eq!(ev.payload, json!({ "priority": 3 }));
        assert_eq!(b.status, Status::Open);
        assert_eq!(b.updated_at, T0, "the backend stamps updated_at");
    }

    #[test]
    fn close_closes_once_with_its_reason() {
        check_close_reason(None).unwrap();
        check_close_reason(Some(&"x".repeat(MAX_COMMENT_BYTES))).unwrap();
        let err = check_close_reason(Some(&"x".repeat(MAX_COMMENT_BYTES + 1))).unwrap_err();
        assert_eq!(err.to_string(), "close reason is too long (64 KiB at most)");
        assert!(matches!(err, Error::Invalid(_)));

        let mut b = bead("gt-1", Status::InProgress);
        let ev = close(&mut b, Some("done"), NOW).unwrap();
        assert_eq!(b.status, Status::Closed);
        assert_eq!(b.closed_at.as_deref(), Some(NOW));
        assert_eq!(b.close_reason.as_deref(), Some("done"));
        assert_eq!(ev.kind, kind::BEAD_CLOSED);
        assert_eq!(ev.summary, "closed gt-1: done");
        assert_eq!(ev.payload, json!({ "reason": "done" }));

        let before = b.clone();
        let err = close(&mut b, None, "later").unwrap_err();
        assert_eq!(err.to_string(), "gt-1 is already closed");
        assert!(matches!(err, Error::Refused(_)));
        assert_eq!(b, before, "a refusal changes nothing");

        let mut b = bead("gt-2", Status::Open);
        let ev = close(&mut b, None, NOW).unwrap();
        assert_eq!(ev.summary, "closed gt-2");
        assert_eq!(ev.payload, json!({ "reason": null }));
        assert_eq!(b.close_reason, None);
    }

    #[test]
    fn reopen_opens_a_closed_bead_only() {
        let mut b = bead("gt-1", Status::Open);
        close(&mut b, Some("why"), NOW).unwrap();
        let ev = reopen(&mut b, "2026-01-03T00:00:00.000Z").unwrap();
        assert_eq!(b.status, Status::Open);
        assert_eq!((b.closed_at.clone(), b.close_reason.clone()), (None, None));
        assert_eq!(ev.kind, kind::BEAD_REOPENED);
        assert_eq!(ev.summary, "reopened gt-1");
        assert_eq!(ev.payload, json!({}));

        let before = b.clone();
        let err = reopen(&mut b, "later").unwrap_err();
        assert_eq!(err.to_string(), "gt-1 is not closed (it is open)");
        assert!(matches!(err, Error::Refused(_)));
        assert_eq!(b, before, "a refusal changes nothing");
    }

    #[test]
    fn commented_event_quotes_the_first_line_short() {
        let ev = commented_event("gt-1", 7, "ann", "first line\nsecond");
        assert_eq!(ev.kind, kind::BEAD_COMMENTED);
        assert_eq!(ev.summary, "comment on gt-1: first line");
        assert_eq!(ev.bead.as_deref(), Some("gt-1"));
        assert_eq!(ev.payload, json!({ "comment": 7, "author": "ann" }));
        let long = "é".repeat(100);
        let ev = commented_event("gt-1", 8, "ann", &long);
        assert_eq!(ev.summary, format!("comment on gt-1: {}", "é".repeat(80)));
        assert_eq!(
            commented_event("gt-1", 9, "a", "").summary,
            "comment on gt-1: "
        );
    }

    #[test]
    fn dependency_refusals() {
        let own = edge("gt-1", "gt-1", DepType::Related);
        let err = check_dep_ends(&own).unwrap_err();
        assert_eq!(err.to_string(), "a bead cannot depend on itself (gt-1)");
        assert!(matches!(err, Error::Invalid(_)));
        check_dep_ends(&edge("gt-1", "gt-2", DepType::Blocks)).unwrap();

        let child = edge("gt-1", "gt-3", DepType::ParentChild);
        let err = check_parent(&child, Some("gt-2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gt-1 already has parent gt-2; remove that dependency first"
        );
        assert!(matches!(err, Error::Refused(_)));
        check_parent(&child, None).unwrap();
        check_parent(&edge("gt-1", "gt-3", DepType::Blocks), Some("gt-2")).unwrap();

        let blocks = edge("gt-1", "gt-2", DepType::Blocks);
        let path = || Some(vec!["gt-2".to_string(), "gt-5".into(), "gt-1".into()]);
        let err = check_cycle(&blocks, path()).unwrap_err();
        assert!(matches!(err, Error::Cycle(ref c) if c == "gt-1 -> gt-2 -> gt-5 -> gt-1"));
        let err = check_cycle(&child, Some(vec!["gt-3".into(), "gt-1".into()])).unwrap_err();
        assert!(matches!(err, Error::Cycle(ref c) if c == "gt-1 -> gt-3 -> gt-1"));
        check_cycle(&blocks, None).unwrap();
        check_cycle(&edge("gt-1", "gt-2", DepType::Related), path()).unwrap();

        check_inserted(&blocks, true).unwrap();
        let err = check_inserted(&blocks, false).unwrap_err();
        assert_eq!(err.to_string(), "gt-1 already depends on gt-2 (blocks)");
        assert!(matches!(err, Error::Refused(_)));
    }

    #[test]
    fn dependency_events() {
        let ev = dep_added_event(&edge("gt-1", "gt-2", DepType::Blocks));
        assert_eq!(ev.kind, kind::DEP_ADDED);
        assert_eq!(ev.summary, "gt-1 depends on gt-2 (blocks)");
        assert_eq!(ev.bead.as_deref(), Some("gt-1"));
        assert_eq!(
            ev.payload,
            json!({ "depends_on": "gt-2", "type": "blocks" })
        );

        let ev = dep_removed_event("gt-1", "gt-2", Some(DepType::ParentChild));
        assert_eq!(ev.kind, kind::DEP_REMOVED);
        assert_eq!(ev.summary, "gt-1 no longer depends on gt-2");
        assert_eq!(ev.bead.as_deref(), Some("gt-1"));
        assert_eq!(
            ev.payload,
            json!({ "depends_on": "gt-2", "type": "parent-child" })
        );
        let ev = dep_removed_event("gt-1", "gt-2", None);
        assert_eq!(ev.payload, json!({ "depends_on": "gt-2", "type": null }));
    }

    #[test]
    fn import_edge_dangles_on_itself_or_a_missing_target() {
        assert!(!import_edge_dangles(
            &edge("gt-1", "gt-2", DepType::Blocks),
            true
        ));
        assert!(import_edge_dangles(
            &edge("gt-1", "gt-2", DepType::Blocks),
            false
        ));
        assert!(import_edge_dangles(
            &edge("gt-1", "gt-1", DepType::Related),
            true
        ));
    }

    #[test]
    fn imported_event_adds_the_counts() {
        let counts = ImportCounts {
            created: 2,
            comments: 1,
            ..Default::default()
        };
        let summary = NewEvent::new(kind::BEADS_IMPORTED, "imported 2 beads")
            .payload(json!({ "file": "x.jsonl" }));
        let ev = imported_event(&summary, &counts);
        assert_eq!(ev.kind, kind::BEADS_IMPORTED);
        assert_eq!(ev.summary, "imported 2 beads");
        assert_eq!(ev.payload["file"], json!("x.jsonl"));
        assert_eq!(ev.payload["counts"], json!(counts));
        assert_eq!(ev.payload["counts"]["created"], json!(2));
        let plain = NewEvent::new(kind::BEADS_IMPORTED, "s").payload(json!(null));
        assert_eq!(imported_event(&plain, &counts).payload, json!(null));
    }
}
