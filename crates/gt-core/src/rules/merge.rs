//! Rules for the merge queue (refinery), rig config and convoys.
//!
//! A merge request's transitions change the [`MergeEntry`] in place (the
//! backend writes its status and bookkeeping columns back) and, where the
//! request's bead follows, the [`Bead`] too; they return a [`BeadChange`]
//! saying what else to write.

use serde_json::{json, Map, Value};

use crate::bead::{Bead, Status, MAX_COMMENT_BYTES};
use crate::error::{Error, Result};
use crate::event::{kind, EventKind, NewEvent};
use crate::merge::{Convoy, ConvoyStatus, FailureKind, Landing, MergeEntry, MergeStatus};

/// Longest failure text kept (the tail of gate output).
pub const MAX_FAILURE_BYTES: usize = 16 * 1024;

/// The tail of `text` that fits in `max` bytes, cut on a char boundary.
pub fn tail_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// What a transition writes besides the merge request row, in this order:
/// the bead row (when `write_bead`), a comment on the bead, then the events.
#[derive(Debug, Clone, Default)]
pub struct BeadChange {
    /// The bead was changed in place: write it.
    pub write_bead: bool,
    /// A comment to add to the bead (by the actor).
    pub comment: Option<String>,
    pub events: Vec<NewEvent>,
}

/// The first 12 characters of a commit, as summaries show it.
fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// `gt rig config`: sets (`Some`) or removes (`None`) `key` of the rig's
/// config, with its `rig.config_set` event.
pub fn set_rig_config(
    config: &mut Map<String, Value>,
    rig: &str,
    key: &str,
    value: Option<Value>,
) -> NewEvent {
    match &value {
        Some(v) => {
            config.insert(key.to_string(), v.clone());
        }
        None => {
            config.remove(key);
        }
    }
    let summary = match &value {
        Some(v) => format!("rig {rig}: {key} = {v}"),
        None => format!("rig {rig}: {key} unset"),
    };
    NewEvent::new(EventKind::RigConfigSet.as_str(), summary)
        .rig(rig)
        .payload(json!({ "key": key, "value": value }))
}

/// A landing starts: a queued request becomes `landing` with the commit
/// that carries it, the target tip it starts from and its batch, attempts
/// + 1.
pub fn start_landing(
    e: &mut MergeEntry,
    l: &Landing,
    target_from: &str,
    batch: i64,
    now: &str,
) -> Result<NewEvent> {
    if e.mr.status != MergeStatus::Queued {
        return Err(Error::refused(format!(
            "merge request {} is {}, not queued",
            l.id, e.mr.status
        )));
    }
    e.mr.status = MergeStatus::Landing;
    e.mr.updated_at = now.to_string();
    e.landing_commit = Some(l.commit.clone());
    e.target_from = Some(target_from.to_string());
    e.batch = Some(batch);
    e.attempts += 1;
    Ok(NewEvent::new(
        EventKind::MergeLanding.as_str(),
        format!(
            "merge request {} ({}) landing as {}",
            l.id,
            e.mr.bead,
            short(&l.commit)
        ),
    )
    .rig(&e.mr.rig)
    .bead(&e.mr.bead)
    .payload(json!({
        "merge_request": l.id, "commit": l.commit,
        "target_from": target_from, "batch": batch,
    })))
}

/// A verified landing: the request becomes `merged` as `commit`, follow-up
/// pending, its failure cleared. False (nothing changed) when it already
/// was merged; else the backend writes it and calls [`close_landed`].
pub fn land(e: &mut MergeEntry, commit: &str, now: &str) -> bool {
    if e.mr.status == MergeStatus::Merged {
        return false;
    }
    e.mr.status = MergeStatus::Merged;
    e.mr.updated_at = now.to_string();
    e.merged_commit = Some(commit.to_string());
    e.followup_pending = true;
    e.failure = None;
    true
}

/// After [`land`]: the request's bead is closed (reason `merged: <commit>`,
/// the commit in its metadata) unless it already was, with `bead.closed`,
/// then the `merge.landed` event.
pub fn close_landed(e: &MergeEntry, bead: &mut Bead, now: &str) -> BeadChange {
    let commit = e.merged_commit.as_deref().unwrap_or_default();
    let short = short(commit);
    let mut out = BeadChange::default();
    if bead.status != Status::Closed {
        bead.set_status(Status::Closed, now);
        bead.close_reason = Some(format!("merged: {short}"));
        bead.metadata.insert("merged_commit".into(), json!(commit));
        out.write_bead = true;
        out.events.push(
            NewEvent::new(
                kind::BEAD_CLOSED,
                format!("closed {}: merged as {short}", bead.id),
            )
            .rig(&e.mr.rig)
            .bead(&bead.id)
            .payload(json!({ "reason": bead.close_reason })),
        );
    }
    out.events.push(
        NewEvent::new(
            EventKind::MergeLanded.as_str(),
            format!(
                "merge request {} ({}, {}) landed as {short}",
                e.mr.id, e.mr.bead, e.mr.branch
            ),
        )
        .rig(&e.mr.rig)
        .bead(&e.mr.bead)
        .payload(json!({
            "merge_request": e.mr.id, "commit": commit, "branch": e.mr.branch,
            "batch": e.batch,
        })),
    );
    out
}

/// A request failed on `fkind`: `conflict` (a conflict) or `failed`, with
/// the tail of `failure` and the conflicting `files`, follow-up pending, no
/// landing in progress. A `merging` bead goes back to `open`, unassigned;
/// the tail of `note` is commented on the bead either way.
pub fn fail(
    e: &mut MergeEntry,
    bead: &mut Bead,
    fkind: FailureKind,
    failure: &str,
    files: &[String],
    note: &str,
    now: &str,
) -> BeadChange {
    // Gate output may hold anything, NUL too (which no store keeps as text).
    let failure = crate::bead::without_nul(tail_bytes(failure, MAX_FAILURE_BYTES));
    let note = crate::bead::without_nul(tail_bytes(note, MAX_COMMENT_BYTES / 2));
    let note: &str = &note;
    let (status, ev_kind) = match fkind {
        FailureKind::Conflict => (MergeStatus::Conflict, EventKind::MergeConflict),
        _ => (MergeStatus::Failed, EventKind::MergeFailed),
    };
    e.mr.status = status;
    e.mr.updated_at = now.to_string();
    e.failure = Some(failure.to_string());
    e.conflict_files = files.to_vec();
    e.followup_pending = true;
    e.landing_commit = None;
    e.target_from = None;
    let mut out = BeadChange {
        comment: Some(note.to_string()),
        ..BeadChange::default()
    };
    if bead.status == Status::Merging {
        bead.set_status(Status::Open, now);
        bead.assignee = None;
        out.write_bead = true;
    }
    let first = failure
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let first: String = first.chars().take(120).collect();
    let id = e.mr.id;
    out.events.push(
        NewEvent::new(
            ev_kind.as_str(),
            format!("merge request {id} ({}) {status}: {first}", e.mr.bead),
        )
        .rig(&e.mr.rig)
        .bead(&e.mr.bead)
        .payload(json!({ "merge_request": id, "files": files, "failure": failure })),
    );
    out
}

/// Whether a request may be queued again, before its bead is read: false
/// when it already is queued (nothing to do), refused unless it is
/// landing, failed or conflicting.
pub fn check_requeue(e: &MergeEntry) -> Result<bool> {
    match e.mr.status {
        MergeStatus::Queued => Ok(false),
        MergeStatus::Landing | MergeStatus::Failed | MergeStatus::Conflict => Ok(true),
        other => Err(Error::refused(format!(
            "merge request {} is {other}; only a failed, conflicting or landing request can be queued again",
            e.mr.id
        ))),
    }
}

/// Back to `queued` (a landing that did not happen, or `gt mq retry`), after
/// [`check_requeue`] said true: refused when a failed request's bead is
/// being worked on again; an `open` bead becomes `merging`.
pub fn requeue(e: &mut MergeEntry, bead: &mut Bead, reason: &str, now: &str) -> Result<BeadChange> {
    if e.mr.status != MergeStatus::Landing && !matches!(bead.status, Status::Open | Status::Merging)
    {
        return Err(Error::refused(format!(
            "{} is {} (being worked on again); it will queue a new request with gt done",
            bead.id, bead.status
        )));
    }
    e.mr.status = MergeStatus::Queued;
    e.mr.updated_at = now.to_string();
    e.landing_commit = None;
    e.target_from = None;
    e.followup_pending = false;
    let mut out = BeadChange::default();
    if bead.status == Status::Open {
        bead.set_status(Status::Merging, now);
        out.write_bead = true;
    }
    let id = e.mr.id;
    out.events.push(
        NewEvent::new(
            EventKind::MergeRequeued.as_str(),
            format!("merge request {id} ({}) queued again: {reason}", e.mr.bead),
        )
        .rig(&e.mr.rig)
        .bead(&e.mr.bead)
        .payload(json!({ "merge_request": id, "reason": reason })),
    );
    Ok(out)
}

/// `gt mq remove`, before the bead is read: only a queued, failed or
/// conflicting request can be removed.
pub fn check_remove(e: &MergeEntry) -> Result<()> {
    match e.mr.status {
        MergeStatus::Queued | MergeStatus::Failed | MergeStatus::Conflict => Ok(()),
        other => Err(Error::refused(format!(
            "merge request {} is {other}; only a queued, failed or conflicting request can be removed",
            e.mr.id
        ))),
    }
}

/// `gt mq remove`, after [`check_remove`]: the request becomes `removed`,
/// no follow-up; a `merging` bead goes back to `open`, unassigned, with a
/// comment that its branch is kept.
pub fn remove(e: &mut MergeEntry, bead: &mut Bead, now: &str) -> BeadChange {
    e.mr.status = MergeStatus::Removed;
    e.mr.updated_at = now.to_string();
    e.followup_pending = false;
    let id = e.mr.id;
    let mut out = BeadChange::default();
    if bead.status == Status::Merging {
        bead.set_status(Status::Open, now);
        bead.assignee = None;
        out.write_bead = true;
        out.comment = Some(format!(
            "merge request {id} was removed from the queue; branch {} is kept",
            e.mr.branch
        ));
    }
    out.events.push(
        NewEvent::new(
            EventKind::MergeRemoved.as_str(),
            format!("merge request {id} ({}) removed from the queue", e.mr.bead),
        )
        .rig(&e.mr.rig)
        .bead(&e.mr.bead)
        .payload(json!({ "merge_request": id, "branch": e.mr.branch })),
    );
    out
}

/// A new convoy's name: valid, and not one taken (`exists`).
pub fn check_new_convoy(name: &str, exists: bool) -> Result<()> {
    crate::merge::validate_convoy_name(name)?;
    if exists {
        return Err(Error::refused(format!("convoy '{name}' already exists")));
    }
    Ok(())
}

/// The status a new convoy is stored with.
pub const NEW_CONVOY_STATUS: ConvoyStatus = ConvoyStatus::Open;

/// The `convoy.created` event of convoy `id`, with the beads it tracks.
pub fn convoy_created(id: i64, name: &str, added: &[String]) -> NewEvent {
    NewEvent::new(
        EventKind::ConvoyCreated.as_str(),
        format!("convoy {id} ({name}) created with {} bead(s)", added.len()),
    )
    .payload(json!({ "convoy": id, "name": name, "beads": added }))
}

/// Beads were `added` to convoy `c` (those it did not track yet): a landed
/// convoy is open again. None added, nothing changes and no event.
pub fn add_to_convoy(c: &mut Convoy, added: &[String], now: &str) -> Option<NewEvent> {
    if added.is_empty() {
        return None;
    }
    if c.status == ConvoyStatus::Landed {
        c.status = ConvoyStatus::Open;
        c.landed_at = None;
    }
    c.updated_at = now.to_string();
    Some(
        NewEvent::new(
            EventKind::ConvoyUpdated.as_str(),
            format!(
                "convoy {} ({}): {} bead(s) added",
                c.id,
                c.name,
                added.len()
            ),
        )
        .payload(json!({ "convoy": c.id, "name": c.name, "added": added })),
    )
}

/// An open convoy whose beads are all closed (and has some) becomes
/// `landed`; else nothing changes and no event.
pub fn convoy_landed(c: &mut Convoy, now: &str) -> Option<NewEvent> {
    if c.total == 0 || c.closed < c.total {
        return None;
    }
    c.status = ConvoyStatus::Landed;
    c.landed_at = Some(now.to_string());
    c.updated_at = now.to_string();
    Some(
        NewEvent::new(
            EventKind::ConvoyLanded.as_str(),
            format!(
                "convoy {} ({}) landed: {} bead(s) closed",
                c.id, c.name, c.total
            ),
        )
        .payload(json!({ "convoy": c.id, "name": c.name, "beads": c.beads })),
    )
}

/// The dependencies of a molecule's step with its `@N` targets (step N of
/// the same molecule, which must come earlier) replaced by the ids made so
/// far; other targets are kept as given.
pub fn molecule_deps(
    deps: &[(crate::bead::DepType, String)],
    made: &[String],
) -> crate::error::Result<Vec<(crate::bead::DepType, String)>> {
    deps.iter()
        .map(|(t, target)| match target.strip_prefix('@') {
            Some(n) => {
                let i: usize = n.parse().map_err(|_| {
                    crate::error::Error::invalid(format!("'{target}' is not a step reference"))
                })?;
                made.get(i).map(|id| (*t, id.clone())).ok_or_else(|| {
                    crate::error::Error::invalid(format!(
                        "step reference {target} names a step not made yet"
                    ))
                })
            }
            None => Ok((*t, target.clone())),
        })
        .collect()
}

/// The `molecule.created` event: its epic, steps and convoy.
pub fn molecule_created(m: &crate::merge::Molecule, formula: &str) -> NewEvent {
    let steps: Vec<&str> = m.steps.iter().map(|b| b.id.as_str()).collect();
    NewEvent::new(
        EventKind::MoleculeCreated.as_str(),
        format!(
            "molecule {} of formula {formula}: {} step(s), convoy {}",
            m.epic.id,
            steps.len(),
            m.convoy.id
        ),
    )
    .bead(&m.epic.id)
    .payload(json!({ "formula": formula, "steps": steps, "convoy": m.convoy.id }))
}

/// The writes a backend makes for `create_molecule`, inside its transaction.
pub trait MoleculeWrites {
    /// Creates a bead as `create_bead` does.
    fn bead(&mut self, new: &crate::bead::NewBead) -> crate::error::Result<crate::bead::Bead>;
    /// Creates a convoy as `create_convoy` does.
    fn convoy(&mut self, name: &str, beads: &[String]) -> crate::error::Result<Convoy>;
}

/// What `create_molecule` refuses before any write.
pub fn check_molecule(
    convoy: &str,
    epic: &crate::bead::NewBead,
    steps: &[crate::bead::NewBead],
) -> crate::error::Result<()> {
    crate::merge::validate_convoy_name(convoy)?;
    epic.validate()?;
    steps.iter().try_for_each(|s| s.validate())
}

/// `create_molecule` inside the backend's transaction: the epic, each step
/// as its child with its `@N` references resolved, then the convoy of the
/// steps; the molecule and its `molecule.created` event.
pub fn make_molecule(
    w: &mut dyn MoleculeWrites,
    formula: &str,
    epic: &crate::bead::NewBead,
    steps: &[crate::bead::NewBead],
    convoy: &str,
) -> crate::error::Result<(crate::merge::Molecule, NewEvent)> {
    let e = w.bead(epic)?;
    let mut ids: Vec<String> = Vec::new();
    let mut made = Vec::new();
    for s in steps {
        let mut n = s.clone();
        n.parent = Some(e.id.clone());
        n.deps = molecule_deps(&s.deps, &ids)?;
        let b = w.bead(&n)?;
        ids.push(b.id.clone());
        made.push(b);
    }
    let c = w.convoy(convoy, &ids)?;
    let m = crate::merge::Molecule {
        epic: e,
        steps: made,
        convoy: c,
    };
    let ev = molecule_created(&m, formula);
    Ok((m, ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::merge::MergeRequest;
    use crate::rules::fixtures::{assert_event, bead, T0};

    const NOW: &str = "2026-01-02T00:00:00.000Z";

    fn entry(status: &str) -> MergeEntry {
        MergeEntry {
            mr: MergeRequest {
                id: 5,
                rig: "app".into(),
                bead: "gt-1".into(),
                polecat: Some("nux".into()),
                branch: "polecat/nux/gt-1".into(),
                base_commit: "aaaa".into(),
                head_commit: "bbbb".into(),
                status: status.parse().unwrap(),
                note: None,
                created_at: T0.into(),
                updated_at: T0.into(),
            },
            attempts: 0,
            target_from: None,
            landing_commit: None,
            merged_commit: None,
            batch: None,
            failure: None,
            conflict_files: Vec::new(),
            followup_pending: false,
        }
    }

    fn convoy(status: &str, closed: usize, total: usize) -> Convoy {
        Convoy {
            id: 2,
            name: "release-1".into(),
            status: status.parse().unwrap(),
            created_by: Some("human".into()),
            created_at: T0.into(),
            updated_at: T0.into(),
            landed_at: (status == "landed").then(|| T0.to_string()),
            beads: (1..=total).map(|i| format!("gt-{i}")).collect(),
            closed,
            total,
        }
    }

    fn landing() -> Landing {
        Landing {
            id: 5,
            commit: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn tail_bytes_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail_bytes("abc", 5), "abc");
        assert_eq!(tail_bytes("abcdef", 2), "ef");
        assert_eq!(tail_bytes("aé", 1), "", "é is two bytes");
        assert_eq!(tail_bytes("aéb", 2), "b");
    }

    #[test]
    fn rig_config_sets_and_unsets_a_key() {
        let mut c = Map::new();
        let ev = set_rig_config(&mut c, "app", "gates", Some(json!(["cargo test"])));
        assert_eq!(c["gates"], json!(["cargo test"]));
        assert_eq!(
            (ev.kind, ev.summary.as_str(), ev.rig.as_deref()),
            (
                "rig.config_set",
                r#"rig app: gates = ["cargo test"]"#,
                Some("app")
            )
        );
        assert_eq!(
            ev.payload,
            json!({ "key": "gates", "value": ["cargo test"] })
        );
        let ev = set_rig_config(&mut c, "app", "gates", None);
        assert!(c.is_empty());
        assert_eq!(ev.summary, "rig app: gates unset");
        assert_eq!(ev.payload, json!({ "key": "gates", "value": null }));
    }

    #[test]
    fn only_a_queued_request_starts_landing() {
        let mut e = entry("queued");
        let ev = start_landing(&mut e, &landing(), "ffff", 3, NOW).unwrap();
        assert_eq!(
            (
                e.mr.status.as_str(),
                e.attempts,
                e.batch,
                e.mr.updated_at.as_str()
            ),
            ("landing", 1, Some(3), NOW)
        );
        assert_eq!(e.landing_commit.as_deref(), Some("0123456789abcdef"));
        assert_eq!(e.target_from.as_deref(), Some("ffff"));
        assert_event(
            &ev,
            "merge.landing",
            "merge request 5 (gt-1) landing as 0123456789ab",
            Some("app"),
            Some("gt-1"),
            json!({ "merge_request": 5, "commit": "0123456789abcdef",
                    "target_from": "ffff", "batch": 3 }),
        );
        let before = e.clone();
        let err = start_landing(&mut e, &landing(), "ffff", 4, NOW).unwrap_err();
        assert_eq!(err.to_string(), "merge request 5 is landing, not queued");
        assert!(matches!(err, Error::Refused(_)));
        assert_eq!(e, before, "a refusal changes nothing");
    }

    #[test]
    fn a_landed_request_closes_its_bead_once() {
        let mut e = entry("landing");
        e.failure = Some("old".into());
        e.batch = Some(3);
        assert!(land(&mut e, "0123456789abcdef", NOW));
        assert_eq!(
            (
                e.mr.status.as_str(),
                e.merged_commit.as_deref(),
                e.failure.clone()
            ),
            ("merged", Some("0123456789abcdef"), None)
        );
        assert!(e.followup_pending);
        let merged = e.clone();
        assert!(!land(&mut e, "other", "later"), "already merged");
        assert_eq!(e, merged);

        let mut b = bead("gt-1", Status::Merging);
        let out = close_landed(&e, &mut b, NOW);
        assert!(out.write_bead && out.comment.is_none());
        assert_eq!(b.status, Status::Closed);
        assert_eq!(b.close_reason.as_deref(), Some("merged: 0123456789ab"));
        assert_eq!(b.metadata["merged_commit"], json!("0123456789abcdef"));
        let kinds: Vec<_> = out.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["bead.closed", "merge.landed"]);
        let closed = &out.events[0];
        assert_eq!(closed.summary, "closed gt-1: merged as 0123456789ab");
        assert_eq!(
            (closed.rig.as_deref(), closed.bead.as_deref()),
            (Some("app"), Some("gt-1"))
        );
        assert_eq!(closed.payload, json!({ "reason": "merged: 0123456789ab" }));
        let landed = &out.events[1];
        assert_eq!(
            landed.summary,
            "merge request 5 (gt-1, polecat/nux/gt-1) landed as 0123456789ab"
        );
        assert_eq!(
            landed.payload,
            json!({ "merge_request": 5, "commit": "0123456789abcdef",
                    "branch": "polecat/nux/gt-1", "batch": 3 })
        );

        let mut b = bead("gt-1", Status::Closed);
        let before = b.clone();
        let out = close_landed(&e, &mut b, NOW);
        assert!(!out.write_bead);
        assert_eq!(b, before, "a closed bead stays as it was");
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].kind, "merge.landed");
    }

    #[test]
    fn a_failure_reopens_a_merging_bead_with_a_comment() {
        let mut e = entry("landing");
        e.landing_commit = Some("cccc".into());
        e.target_from = Some("ffff".into());
        let mut b = bead("gt-1", Status::Merging);
        b.assignee = Some("app/nux".into());
        let files = vec!["src/a.rs".to_string()];
        let out = fail(
            &mut e,
            &mut b,
            FailureKind::Conflict,
            "rebase\nCONFLICT in src/a.rs\n\n",
            &files,
            "fix it",
            NOW,
        );
        assert_eq!(e.mr.status.as_str(), "conflict");
        assert_eq!(
            e.failure.as_deref(),
            Some("rebase\nCONFLICT in src/a.rs\n\n")
        );
        assert_eq!(e.conflict_files, files);
        assert!(e.followup_pending);
        assert_eq!(
            (e.landing_commit.clone(), e.target_from.clone()),
            (None, None)
        );
        assert_eq!((b.status, b.assignee.clone()), (Status::Open, None));
        assert!(out.write_bead);
        assert_eq!(out.comment.as_deref(), Some("fix it"));
        assert_eq!(out.events.len(), 1);
        let ev = &out.events[0];
        assert_event(
            ev,
            "merge.conflict",
            "merge request 5 (gt-1) conflict: CONFLICT in src/a.rs",
            Some("app"),
            Some("gt-1"),
            json!({ "merge_request": 5, "files": files,
                    "failure": "rebase\nCONFLICT in src/a.rs\n\n" }),
        );

        let mut e = entry("landing");
        let mut b = bead("gt-1", Status::InProgress);
        let before = b.clone();
        let long = "x".repeat(MAX_FAILURE_BYTES + 10);
        let out = fail(&mut e, &mut b, FailureKind::Gate, &long, &[], "n", NOW);
        assert_eq!(e.mr.status.as_str(), "failed");
        assert_eq!(e.failure.as_ref().map(String::len), Some(MAX_FAILURE_BYTES));
        assert!(!out.write_bead);
        assert_eq!(b, before, "only a merging bead is reopened");
        assert_eq!(out.events[0].kind, "merge.failed");
        assert!(out.events[0]
            .summary
            .starts_with("merge request 5 (gt-1) failed: xxx"));
        let mut e = entry("landing");
        let out = fail(&mut e, &mut b, FailureKind::Other, "", &[], "n", NOW);
        assert_eq!(
            (e.mr.status.as_str(), out.events[0].kind),
            ("failed", "merge.failed")
        );
        assert_eq!(out.events[0].summary, "merge request 5 (gt-1) failed: ");
    }

    #[test]
    fn requeue_refusals() {
        assert!(!check_requeue(&entry("queued")).unwrap(), "nothing to do");
        for s in ["landing", "failed", "conflict"] {
            assert!(check_requeue(&entry(s)).unwrap());
        }
        for s in ["merged", "removed"] {
            let err = check_requeue(&entry(s)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("merge request 5 is {s}; only a failed, conflicting or landing request can be queued again")
            );
            assert!(matches!(err, Error::Refused(_)));
        }
        let mut e = entry("failed");
        let mut b = bead("gt-1", Status::InProgress);
        let (eb, bb) = (e.clone(), b.clone());
        let err = requeue(&mut e, &mut b, "retry", NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gt-1 is in_progress (being worked on again); it will queue a new request with gt done"
        );
        assert_eq!((e, b), (eb, bb), "a refusal changes nothing");
    }

    #[test]
    fn requeue_makes_an_open_bead_merging_again() {
        let mut e = entry("conflict");
        e.landing_commit = Some("cccc".into());
        e.followup_pending = true;
        let mut b = bead("gt-1", Status::Open);
        let out = requeue(&mut e, &mut b, "retry", NOW).unwrap();
        assert_eq!(e.mr.status.as_str(), "queued");
        assert_eq!(
            (e.landing_commit.clone(), e.target_from.clone()),
            (None, None)
        );
        assert!(!e.followup_pending);
        assert_eq!(b.status, Status::Merging);
        assert!(out.write_bead && out.comment.is_none());
        let ev = &out.events[0];
        assert_event(
            ev,
            "merge.requeued",
            "merge request 5 (gt-1) queued again: retry",
            Some("app"),
            Some("gt-1"),
            json!({ "merge_request": 5, "reason": "retry" }),
        );

        // A landing that did not happen: whatever the bead, back to queued.
        let mut e = entry("landing");
        let mut b = bead("gt-1", Status::InProgress);
        let out = requeue(&mut e, &mut b, "crashed", NOW).unwrap();
        assert_eq!(
            (e.mr.status.as_str(), b.status),
            ("queued", Status::InProgress)
        );
        assert!(!out.write_bead);
    }

    #[test]
    fn remove_refusals_and_the_merging_bead() {
        for s in ["queued", "failed", "conflict"] {
            check_remove(&entry(s)).unwrap();
        }
        for s in ["landing", "merged", "removed"] {
            let err = check_remove(&entry(s)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("merge request 5 is {s}; only a queued, failed or conflicting request can be removed")
            );
            assert!(matches!(err, Error::Refused(_)));
        }
        let mut e = entry("queued");
        e.followup_pending = true;
        let mut b = bead("gt-1", Status::Merging);
        b.assignee = Some("app/nux".into());
        let out = remove(&mut e, &mut b, NOW);
        assert_eq!(
            (e.mr.status.as_str(), e.followup_pending),
            ("removed", false)
        );
        assert_eq!((b.status, b.assignee.clone()), (Status::Open, None));
        assert!(out.write_bead);
        assert_eq!(
            out.comment.as_deref(),
            Some("merge request 5 was removed from the queue; branch polecat/nux/gt-1 is kept")
        );
        let ev = &out.events[0];
        assert_event(
            ev,
            "merge.removed",
            "merge request 5 (gt-1) removed from the queue",
            Some("app"),
            Some("gt-1"),
            json!({ "merge_request": 5, "branch": "polecat/nux/gt-1" }),
        );
        let mut e = entry("failed");
        let mut b = bead("gt-1", Status::Open);
        let before = b.clone();
        let out = remove(&mut e, &mut b, NOW);
        assert!(!out.write_bead && out.comment.is_none());
        assert_eq!(b, before);
    }

    #[test]
    fn convoy_names_and_creation() {
        check_new_convoy("release-1", false).unwrap();
        let err = check_new_convoy("release-1", true).unwrap_err();
        assert_eq!(err.to_string(), "convoy 'release-1' already exists");
        assert!(matches!(err, Error::Refused(_)));
        assert!(matches!(
            check_new_convoy("42", false),
            Err(Error::Invalid(_))
        ));
        assert!(
            matches!(check_new_convoy(" ", true), Err(Error::Invalid(_))),
            "checked first"
        );
        assert_eq!(NEW_CONVOY_STATUS.as_str(), "open");
        let ev = convoy_created(2, "release-1", &["gt-1".into()]);
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            (
                "convoy.created",
                "convoy 2 (release-1) created with 1 bead(s)"
            )
        );
        assert_eq!(
            ev.payload,
            json!({ "convoy": 2, "name": "release-1", "beads": ["gt-1"] })
        );
    }

    #[test]
    fn adding_beads_reopens_a_landed_convoy() {
        let mut c = convoy("landed", 1, 1);
        let before = c.clone();
        assert!(add_to_convoy(&mut c, &[], NOW).is_none());
        assert_eq!(c, before, "nothing added, nothing changes");
        let ev = add_to_convoy(&mut c, &["gt-9".into()], NOW).unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.landed_at.clone(),
                c.updated_at.as_str()
            ),
            ("open", None, NOW)
        );
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            ("convoy.updated", "convoy 2 (release-1): 1 bead(s) added")
        );
        assert_eq!(
            ev.payload,
            json!({ "convoy": 2, "name": "release-1", "added": ["gt-9"] })
        );
        let mut c = convoy("open", 0, 1);
        add_to_convoy(&mut c, &["gt-9".into()], NOW).unwrap();
        assert_eq!((c.status.as_str(), c.landed_at.clone()), ("open", None));
    }

    #[test]
    fn a_convoy_lands_when_all_its_beads_are_closed() {
        for (closed, total) in [(0, 0), (1, 2)] {
            let mut c = convoy("open", closed, total);
            let before = c.clone();
            assert!(convoy_landed(&mut c, NOW).is_none());
            assert_eq!(c, before);
        }
        let mut c = convoy("open", 2, 2);
        let ev = convoy_landed(&mut c, NOW).unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.landed_at.as_deref(),
                c.updated_at.as_str()
            ),
            ("landed", Some(NOW), NOW)
        );
        assert_eq!(
            (ev.kind, ev.summary.as_str()),
            (
                "convoy.landed",
                "convoy 2 (release-1) landed: 2 bead(s) closed"
            )
        );
        assert_eq!(
            ev.payload,
            json!({ "convoy": 2, "name": "release-1", "beads": ["gt-1", "gt-2"] })
        );
    }
}
