//! The refinery: the per-rig merge queue. `gt done` records merge requests;
//! [`run_once`] lands them on the rig's target branch, deterministically, in
//! the refinery's own worktree (`<town>/<rig>/refinery`, detached `HEAD`).
//!
//! Per round: stack up to `merge.batch` queued requests on the current target
//! tip T0 (rebase, merge or squash), run the rig's gates once on the top of
//! the stack, record the landing (`landing`, with each request's commit and
//! T0), move the target with a compare-and-swap from T0, verify the target
//! contains every landed commit, push when configured, and only then record
//! them `merged`. A failing batch is bisected (by prefixes of the stack) to
//! find the culprit; the passing prefix lands and the rest is tried again.
//!
//! Crash safety: the only change outside the database is the atomic CAS of
//! the target ref to a commit that is complete (made before) and has passed
//! the gates. A request found `landing` on restart is `merged` when its
//! commit is on the target (the CAS happened), else queued again. See
//! `docs/refinery.md`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::event::EventQuery;
use crate::git::Integration;
use crate::store::deacon::{DeaconStore, GateRun};
use crate::store::merge::{Convoy, FailureKind, Landing, MergeEntry, MergeStore};
use crate::store::{BeadStore, EventStore, RigStore, SessionFilter, WorkStore};
use crate::workspace::Workspace;

mod config;
mod gates;
mod rebase;

pub use config::*;
pub(crate) use gates::kill_group;
use gates::*;
pub use rebase::*;

/// Status of a merge request (stored as text): the names of
/// [`gt_core::merge::MergeStatus`].
pub use gt_core::merge::MergeStatus;

/// Event kinds of the refinery and convoys.
pub mod kind {
    pub const MERGE_LANDING: &str = crate::event::EventKind::MergeLanding.as_str();
    pub const MERGE_LANDED: &str = crate::event::EventKind::MergeLanded.as_str();
    pub const MERGE_FAILED: &str = crate::event::EventKind::MergeFailed.as_str();
    pub const MERGE_CONFLICT: &str = crate::event::EventKind::MergeConflict.as_str();
    pub const MERGE_REQUEUED: &str = crate::event::EventKind::MergeRequeued.as_str();
    pub const MERGE_REMOVED: &str = crate::event::EventKind::MergeRemoved.as_str();
    pub const CONVOY_CREATED: &str = crate::event::EventKind::ConvoyCreated.as_str();
    pub const CONVOY_UPDATED: &str = crate::event::EventKind::ConvoyUpdated.as_str();
    pub const CONVOY_LANDED: &str = crate::event::EventKind::ConvoyLanded.as_str();
    pub const RIG_CONFIG_SET: &str = crate::event::EventKind::RigConfigSet.as_str();
    /// A gate process group left by a refinery that died was killed before
    /// a gate ran again.
    pub const GATE_KILLED: &str = crate::event::EventKind::MergeGateKilled.as_str();
}

pub use crate::store::merge::MergeEntry as QueueEntry;

pub use gt_core::merge::MergeRequest;

/// Folder of the refinery's worktree, inside the rig folder.
pub const REFINERY_DIR: &str = "refinery";
/// Re-slings of one bead after failures before a human is asked instead.
pub const MAX_RESLINGS: usize = 3;
/// Lines of gate output kept as the failure note.
const FAILURE_TAIL_LINES: usize = 40;
/// Times a round is retried when the target moved under the refinery.
const CAS_RETRIES: u32 = 5;

/// What one rig's refinery run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RigReport {
    pub rig: String,
    pub merged: Vec<i64>,
    pub failed: Vec<i64>,
    pub conflicts: Vec<i64>,
    /// Landings interrupted before the target moved, queued again.
    pub requeued: Vec<i64>,
    /// Landings interrupted after the target moved, finished.
    pub recovered: Vec<i64>,
    /// Beads slung back to their polecat after a failure.
    pub reslung: Vec<String>,
    pub batches: usize,
    pub gate_runs: usize,
    /// Things that did not work out but did not stop the run (mail, re-sling…).
    pub warnings: Vec<String>,
    /// The host whose refinery holds this rig's lease: this run left the
    /// rig to it (absent when this host's refinery ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
}

/// What [`run_once`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefineryReport {
    pub rigs: Vec<RigReport>,
    pub convoys_landed: Vec<Convoy>,
}

impl RefineryReport {
    pub fn merged(&self) -> usize {
        self.rigs.iter().map(|r| r.merged.len()).sum()
    }
}

/// Processes what is queued (one rig, or every rig with merge work), then
/// returns. Idempotent and crash-safe: a request interrupted mid-way is
/// picked up again and finished correctly. Only one refinery works on a rig
/// at a time (a file lock; others wait).
pub fn run_once(ws: &Workspace, rig: Option<&str>, actor: &str) -> Result<RefineryReport> {
    run_once_with(ws, rig, actor, None)
}

/// [`run_once`] that gives up (killing a running gate, leaving its requests
/// queued) as soon as `stop` is set. A rig that fails does not keep the
/// others from landing: every rig is processed, then the first error is
/// returned.
pub fn run_once_with(
    ws: &Workspace,
    rig: Option<&str>,
    actor: &str,
    stop: Option<&AtomicBool>,
) -> Result<RefineryReport> {
    let rigs = match rig {
        Some(r) => {
            ws.store.get_rig(r)?;
            vec![r.to_string()]
        }
        None => ws.store.rigs_with_merge_work()?,
    };
    let mut report = RefineryReport::default();
    let mut first_error = None;
    for r in rigs {
        let mut rr = RigReport {
            rig: r.clone(),
            ..Default::default()
        };
        // One refinery per rig in the whole town: the host holding its lease.
        match crate::hosts::refinery_here(ws, &r, actor) {
            Ok(None) => {}
            Ok(Some(host)) => {
                rr.runs_on = Some(host);
                report.rigs.push(rr);
                continue;
            }
            Err(e) => {
                report.rigs.push(rr);
                first_error.get_or_insert(e);
                continue;
            }
        }
        let res = process_rig(ws, &r, actor, stop, &mut rr, &mut report.convoys_landed);
        report.rigs.push(rr);
        if let Err(e) = res {
            tracing::warn!(rig = %r, %e, "refinery run of a rig failed");
            first_error.get_or_insert(e);
        }
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    for c in ws.store.refresh_convoys(actor)? {
        if let (Some(w), Some(last)) = (convoy_landed_mail(ws, &c, actor), report.rigs.last_mut()) {
            last.warnings.push(w);
        }
        report.convoys_landed.push(c);
    }
    Ok(report)
}

fn lock_refinery(ws: &Workspace, rig: &str) -> Result<crate::workspace::RigLock> {
    ws.lock(&format!("refinery-{rig}"))
}

/// The refinery's worktree of a rig.
pub fn worktree(ws: &Workspace, rig: &str) -> PathBuf {
    ws.rig_dir(rig).join(REFINERY_DIR)
}

struct Ctx<'a> {
    ws: &'a Workspace,
    rig: String,
    target: String,
    target_ref: String,
    repo: PathBuf,
    wt: PathBuf,
    settings: RigSettings,
    actor: &'a str,
    stop: Option<&'a AtomicBool>,
}

impl Ctx<'_> {
    fn target_tip(&self) -> Result<String> {
        self.ws
            .host
            .git
            .resolve(&self.repo, &self.target_ref)?
            .ok_or_else(|| {
                Error::Environment(format!("rig {} has no branch {}", self.rig, self.target))
            })
    }
}

fn process_rig(
    ws: &Workspace,
    rig_name: &str,
    actor: &str,
    stop: Option<&AtomicBool>,
    rr: &mut RigReport,
    convoys: &mut Vec<Convoy>,
) -> Result<()> {
    let _lock = lock_refinery(ws, rig_name)?;
    // Every rebase of this run is in the refinery's worktree: the committer
    // identity is looked up once for the run, not once per rebase.
    let _identity = ws.host.git.identity_cache();
    let rig = ws.store.get_rig(rig_name)?;
    let settings = RigSettings::from_config(&ws.store.rig_config(rig_name)?);
    let cx = Ctx {
        ws,
        rig: rig.name.clone(),
        target_ref: format!("refs/heads/{}", rig.branch),
        target: rig.branch.clone(),
        repo: ws.repo_dir(&rig.name),
        wt: worktree(ws, &rig.name),
        settings,
        actor,
        stop,
    };
    // A gate group a refinery that died left running is killed before any
    // gate runs again (we hold the rig's refinery lock: its owner is gone).
    reap_stale_gates(ws, rig_name, actor)?;
    if let Err(e) = crate::repo_guard::enforce(ws, rig_name, actor) {
        rr.warnings
            .push(format!("cannot check the repository config: {e}"));
    }
    recover(&cx, rr, convoys)?;
    followups(&cx, rr);
    // Requests queued during this run (re-slung work coming back) wait for
    // the next run, so a run always ends.
    let horizon = ws
        .store
        .merge_entries(Some(rig_name), &[MergeStatus::Queued])?
        .last()
        .map(|e| e.mr.id)
        .unwrap_or(0);
    // Land on top of the upstream: fetch first (a failure is a warning).
    if horizon > 0 {
        if let Err(e) = crate::rig::fetch(ws, rig_name, actor) {
            rr.warnings.push(e.to_string());
        }
    }
    // Requests made on another host: their branch comes from the upstream.
    let waiting = fetch_branches_from_elsewhere(&cx, horizon, rr)?;
    let mut lost_races = 0;
    loop {
        let mut queued = ws
            .store
            .merge_entries(Some(rig_name), &[MergeStatus::Queued])?;
        queued.retain(|e| e.mr.id <= horizon && !waiting.contains(&e.mr.id));
        if queued.is_empty() {
            break;
        }
        let batch: Vec<MergeEntry> = queued.into_iter().take(cx.settings.batch).collect();
        match round(&cx, &batch, rr, convoys)? {
            Round::Progress => lost_races = 0,
            Round::TargetMoved => {
                lost_races += 1;
                if lost_races > CAS_RETRIES {
                    return Err(Error::refused(format!(
                        "{} of rig {} keeps moving under the refinery; try again later",
                        cx.target, cx.rig
                    )));
                }
            }
        }
        followups(&cx, rr);
    }
    Ok(())
}

/// The queued requests (up to `horizon`) whose head commit this host's
/// clone lacks — a polecat on another host made them, and `gt done` pushed
/// their branch to the rig's upstream — are fetched from there. Those still
/// missing afterwards (not pushed yet, or the upstream unreachable) wait
/// for a later run: their ids are returned, with a warning each.
fn fetch_branches_from_elsewhere(
    cx: &Ctx<'_>,
    horizon: i64,
    rr: &mut RigReport,
) -> Result<std::collections::HashSet<i64>> {
    let mut waiting = std::collections::HashSet::new();
    if horizon == 0 {
        return Ok(waiting);
    }
    let git = &cx.ws.host.git;
    for e in cx
        .ws
        .store
        .merge_entries(Some(&cx.rig), &[MergeStatus::Queued])?
        .into_iter()
        .filter(|e| e.mr.id <= horizon)
    {
        if git.resolve(&cx.repo, &e.mr.head_commit)?.is_some() {
            continue;
        }
        let fetched = git.fetch_upstream(&cx.repo, &e.mr.branch, crate::rig::FETCH_TIMEOUT);
        if git.resolve(&cx.repo, &e.mr.head_commit)?.is_none() {
            let why = match fetched {
                Err(err) => err.to_string(),
                Ok(tip) => format!("the upstream's {} is at {tip}", e.mr.branch),
            };
            rr.warnings.push(format!(
                "merge request {} waits for {} ({}) to reach the upstream: {why}",
                e.mr.id, e.mr.branch, e.mr.head_commit
            ));
            waiting.insert(e.mr.id);
        }
    }
    Ok(waiting)
}

/// Finishes landings a previous run left half-way.
fn recover(cx: &Ctx<'_>, rr: &mut RigReport, convoys: &mut Vec<Convoy>) -> Result<()> {
    let landing = cx
        .ws
        .store
        .merge_entries(Some(&cx.rig), &[MergeStatus::Landing])?;
    if landing.is_empty() {
        return Ok(());
    }
    let tip = cx.target_tip()?;
    let mut done = Vec::new();
    for e in landing {
        let commit = e.landing_commit.clone().unwrap_or_default();
        let on_target = !commit.is_empty()
            && cx.ws.host.git.resolve(&cx.repo, &commit)?.is_some()
            && cx.ws.host.git.is_ancestor(&cx.repo, &commit, &tip)?;
        if on_target {
            done.push(Landing {
                id: e.mr.id,
                commit,
            });
        } else {
            cx.ws.store.requeue(
                e.mr.id,
                "the refinery stopped before the target moved",
                cx.actor,
            )?;
            rr.requeued.push(e.mr.id);
        }
    }
    if done.is_empty() {
        return Ok(());
    }
    if cx.settings.push {
        if let Err(e) = cx.ws.host.git.push(&cx.repo, &tip, &cx.target) {
            // The local target has it; pushing is retried on the next run.
            return Err(Error::Environment(format!(
                "cannot push {} of rig {}: {e}",
                cx.target, cx.rig
            )));
        }
    }
    let ids: Vec<i64> = done.iter().map(|l| l.id).collect();
    let landed = cx.ws.store.record_merged(&done, cx.actor)?;
    for c in &landed {
        rr.warnings.extend(convoy_landed_mail(cx.ws, c, cx.actor));
    }
    convoys.extend(landed);
    rr.recovered.extend(&ids);
    rr.merged.extend(&ids);
    Ok(())
}

enum Round {
    Progress,
    TargetMoved,
}

/// Makes sure the refinery worktree exists and sits clean at `commit`.
fn prepare_worktree(cx: &Ctx<'_>, commit: &str) -> Result<()> {
    if !cx.wt.join(".git").exists() {
        let _lock = cx.ws.lock_rig(&cx.rig)?;
        if cx.wt.exists() {
            // A leftover of an interrupted `worktree add`: only our own folder.
            std::fs::remove_dir_all(&cx.wt)
                .map_err(|e| Error::io(format!("cannot remove {}", cx.wt.display()), e))?;
        }
        cx.ws.host.git.worktree_prune(&cx.repo)?;
        cx.ws
            .host
            .git
            .worktree_add_detached(&cx.repo, &cx.wt, commit)?;
    }
    cx.ws.host.git.reset_detached(&cx.wt, commit)
}

/// Puts one request on top of `top` in the refinery worktree.
fn integrate(cx: &Ctx<'_>, e: &MergeEntry, top: &str) -> Result<Integration> {
    // The bead's title is only needed for the message of a new commit.
    let title = || -> String {
        let title = cx
            .ws
            .store
            .get_bead(&e.mr.bead)
            .map(|b| b.title)
            .unwrap_or_default();
        title
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect()
    };
    match cx.settings.strategy {
        Strategy::Rebase => cx
            .ws
            .host
            .git
            .rebase(&cx.wt, top, Some(&e.mr.head_commit), false),
        Strategy::Merge => {
            cx.ws.host.git.reset_detached(&cx.wt, top)?;
            let msg = format!(
                "Merge {} ({}): {}\n\nmerge request {}",
                e.mr.branch,
                e.mr.bead,
                title(),
                e.mr.id
            );
            cx.ws
                .host
                .git
                .merge_into_head(&cx.wt, &e.mr.head_commit, &msg, false)
        }
        Strategy::Squash => {
            cx.ws.host.git.reset_detached(&cx.wt, top)?;
            let msg = format!(
                "{}: {}\n\nSquashed from {} (merge request {})",
                e.mr.bead,
                title(),
                e.mr.branch,
                e.mr.id
            );
            cx.ws
                .host
                .git
                .merge_into_head(&cx.wt, &e.mr.head_commit, &msg, true)
        }
    }
}

/// One round: stack, gate, land (or bisect).
fn round(
    cx: &Ctx<'_>,
    batch: &[MergeEntry],
    rr: &mut RigReport,
    convoys: &mut Vec<Convoy>,
) -> Result<Round> {
    let t0 = cx.target_tip()?;
    prepare_worktree(cx, &t0)?;
    let batch_no = cx.ws.store.next_batch()?;
    rr.batches += 1;
    let mut stack: Vec<(&MergeEntry, String)> = Vec::new();
    // Whether each head is in the rig repository, asked once for the batch.
    let heads: Vec<&str> = batch.iter().map(|e| e.mr.head_commit.as_str()).collect();
    let found = cx.ws.host.git.resolve_many(&cx.repo, &heads)?;
    for (e, found) in batch.iter().zip(found) {
        if found.is_none() {
            let msg = format!(
                "the head commit {} of {} is not in the rig repository",
                e.mr.head_commit, e.mr.branch
            );
            fail(cx, e, FailureKind::Other, &msg, &[], rr)?;
            if stack.is_empty() {
                return Ok(Round::Progress);
            }
            continue;
        }
        let top = stack.last().map(|(_, c)| c.clone()).unwrap_or(t0.clone());
        match integrate(cx, e, &top)? {
            Integration::Done(c) => stack.push((e, c)),
            Integration::Conflict(files) if stack.is_empty() => {
                let msg = format!(
                    "rebase onto {} ({}) conflicts in: {}",
                    cx.target,
                    short(&t0),
                    files.join(", ")
                );
                fail(cx, e, FailureKind::Conflict, &msg, &files, rr)?;
            }
            // It conflicts with a request stacked before it: it is tried on
            // its own (against the new target) in a later round.
            Integration::Conflict(_) => {}
        }
    }
    if stack.is_empty() {
        return Ok(Round::Progress);
    }
    // Gates on the whole stack, then bisect by prefixes on failure.
    let n = stack.len();
    let top = stack[n - 1].1.clone();
    let first = run_gates(cx, &top, rr)?;
    let land_len = match first {
        None => n,
        Some(failure) => {
            let (mut lo, mut hi) = (0usize, n);
            let mut culprit_failure = failure;
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                match run_gates(cx, &stack[mid - 1].1, rr)? {
                    None => lo = mid,
                    Some(f) => {
                        hi = mid;
                        culprit_failure = f;
                    }
                }
            }
            let culprit = stack[hi - 1].0;
            // `lo` requests passed the gates (when lo > 0); the culprit fails
            // after them. Those after it are tried again next round.
            if lo > 0 {
                match land(cx, &stack[..lo], &t0, batch_no, rr, convoys)? {
                    Round::Progress => {}
                    moved => return Ok(moved),
                }
            }
            fail(cx, culprit, FailureKind::Gate, &culprit_failure, &[], rr)?;
            return Ok(Round::Progress);
        }
    };
    land(cx, &stack[..land_len], &t0, batch_no, rr, convoys)
}

/// Moves the target from `t0` to the top of `stack` and records the merges.
fn land(
    cx: &Ctx<'_>,
    stack: &[(&MergeEntry, String)],
    t0: &str,
    batch: i64,
    rr: &mut RigReport,
    convoys: &mut Vec<Convoy>,
) -> Result<Round> {
    let landings: Vec<Landing> = stack
        .iter()
        .map(|(e, c)| Landing {
            id: e.mr.id,
            commit: c.clone(),
        })
        .collect();
    let top = landings[landings.len() - 1].commit.clone();
    cx.ws.store.mark_landing(&landings, t0, batch, cx.actor)?;
    let requeue_all = |why: &str| -> Result<()> {
        for l in &landings {
            cx.ws.store.requeue(l.id, why, cx.actor)?;
        }
        Ok(())
    };
    if top != t0 {
        match cx
            .ws
            .host
            .git
            .update_ref(&cx.repo, &cx.target_ref, &top, Some(t0))
        {
            Ok(()) => {}
            Err(Error::Refused(_)) => {
                requeue_all("the target moved during the merge")?;
                return Ok(Round::TargetMoved);
            }
            Err(e) => {
                requeue_all("the target could not be moved")?;
                return Err(e);
            }
        }
    }
    // Verify: the target is what we set and contains every landed commit
    // (and, for merge commits, the request's own head).
    let now = cx.target_tip()?;
    let mut must_contain: Vec<&str> = Vec::new();
    for (e, c) in stack {
        must_contain.push(c);
        if cx.settings.strategy == Strategy::Merge {
            must_contain.push(&e.mr.head_commit);
        }
    }
    let verified = now == top
        && cx
            .ws
            .host
            .git
            .all_ancestors(&cx.repo, &must_contain, &now)?;
    if !verified {
        requeue_all("the target did not verify after the move")?;
        return Ok(Round::TargetMoved);
    }
    if cx.settings.push {
        if let Err(err) = cx.ws.host.git.push(&cx.repo, &top, &cx.target) {
            // Not landed: put the local target back where it was.
            let _ = cx
                .ws
                .host
                .git
                .update_ref(&cx.repo, &cx.target_ref, t0, Some(&top));
            // Someone else pushed first: follow the upstream and stack the
            // batch again on its new tip (bounded like any moved target).
            if let Ok(f) = crate::rig::fetch(cx.ws, &cx.rig, cx.actor) {
                if f.outcome == crate::rig::FetchOutcome::FastForwarded {
                    requeue_all("the upstream moved; landing again on its new tip")?;
                    return Ok(Round::TargetMoved);
                }
            }
            for (e, _) in stack {
                cx.ws.store.requeue(e.mr.id, "push failed", cx.actor)?;
                let msg = format!("push of {} to origin failed: {err}", cx.target);
                fail_entry(cx, e.mr.id, FailureKind::Other, &msg, &[], rr)?;
            }
            return Ok(Round::Progress);
        }
    }
    let landed = cx.ws.store.record_merged(&landings, cx.actor)?;
    for c in &landed {
        rr.warnings.extend(convoy_landed_mail(cx.ws, c, cx.actor));
    }
    convoys.extend(landed);
    rr.merged.extend(landings.iter().map(|l| l.id));
    Ok(Round::Progress)
}

fn fail(
    cx: &Ctx<'_>,
    e: &MergeEntry,
    kind: FailureKind,
    failure: &str,
    files: &[String],
    rr: &mut RigReport,
) -> Result<()> {
    fail_entry(cx, e.mr.id, kind, failure, files, rr)
}

fn fail_entry(
    cx: &Ctx<'_>,
    id: i64,
    kind: FailureKind,
    failure: &str,
    files: &[String],
    rr: &mut RigReport,
) -> Result<()> {
    let note = match kind {
        FailureKind::Conflict => format!(
            "Merge request {id} conflicts with {target}: {failure}. Rebase your branch on the latest {target} \
             (run `gt rebase` in your worktree), resolve the conflicts, commit, and run `gt done` again.",
            target = cx.target
        ),
        FailureKind::Gate => format!(
            "Merge request {id} failed the rig's gates. Fix it, commit, and run `gt done` again.\n{failure}"
        ),
        FailureKind::Other => format!("Merge request {id} could not land: {failure}"),
    };
    cx.ws
        .store
        .record_failure(id, kind, failure, files, &note, cx.actor)?;
    match kind {
        FailureKind::Conflict => rr.conflicts.push(id),
        _ => rr.failed.push(id),
    }
    Ok(())
}

/// Does what is still to do after a request was merged or failed: delete the
/// branch, re-sling, mail. Problems become warnings.
fn followups(cx: &Ctx<'_>, rr: &mut RigReport) {
    let pending = match cx.ws.store.merge_entries(Some(&cx.rig), &[]) {
        Ok(all) => all
            .into_iter()
            .filter(|e| e.followup_pending)
            .collect::<Vec<_>>(),
        Err(e) => {
            rr.warnings.push(format!("cannot read follow-ups: {e}"));
            return;
        }
    };
    // The merged requests' branches are deleted together: one rig lock, one
    // look at the worktrees and one ref transaction for all of them.
    let merged: Vec<&MergeEntry> = pending
        .iter()
        .filter(|e| e.mr.status == MergeStatus::Merged)
        .collect();
    let mut deleted = delete_branches(cx, &merged).into_iter();
    rr.warnings.extend(delete_upstream_refs(cx, &merged));
    for e in pending {
        let branch_deleted = if e.mr.status == MergeStatus::Merged {
            deleted.next()
        } else {
            None
        };
        if let Err(err) = followup(cx, &e, branch_deleted, rr) {
            rr.warnings
                .push(format!("merge request {}: {err}", e.mr.id));
        }
        if let Err(err) = cx.ws.store.set_followup_done(e.mr.id) {
            rr.warnings
                .push(format!("merge request {}: {err}", e.mr.id));
        }
    }
}

/// `branch_deleted`: how deleting the branch of a merged request went.
fn followup(
    cx: &Ctx<'_>,
    e: &MergeEntry,
    branch_deleted: Option<std::result::Result<(), String>>,
    rr: &mut RigReport,
) -> Result<()> {
    let polecat_addr = e.mr.polecat.as_ref().map(|p| format!("{}/{p}", e.mr.rig));
    let mut to: Vec<String> = polecat_addr.iter().cloned().collect();
    if let Some(s) = slinger(cx.ws, &e.mr.bead) {
        if !to.contains(&s) {
            to.push(s);
        }
    }
    match e.mr.status {
        MergeStatus::Merged => {
            let commit = e.merged_commit.clone().unwrap_or_default();
            if let Some(Err(err)) = branch_deleted {
                rr.warnings.push(format!(
                    "branch {} of merge request {} kept: {err}",
                    e.mr.branch, e.mr.id
                ));
            }
            let from = format!("{}/refinery", cx.rig);
            rr.warnings.extend(notify(
                cx.ws,
                &from,
                &to,
                &format!("Merged: {} ({})", e.mr.bead, short(&commit)),
                &format!(
                    "Merge request {} ({}) landed on {} of rig {} as {}.",
                    e.mr.id, e.mr.branch, cx.target, cx.rig, commit
                ),
                cx.actor,
            ));
        }
        MergeStatus::Failed | MergeStatus::Conflict => {
            rr.warnings.extend(crate::formula::held(
                cx.ws,
                &e.mr.bead,
                &format!("did not land (merge request {} {})", e.mr.id, e.mr.status),
                cx.actor,
            ));
            let failure = e.failure.clone().unwrap_or_default();
            let resling_kind = e.mr.status == MergeStatus::Conflict || failure.starts_with("gate ");
            let mut reslung = false;
            if resling_kind && cx.settings.on_failure == OnFailure::Resling {
                let tries = cx
                    .ws
                    .store
                    .merge_entries(Some(&cx.rig), &[MergeStatus::Failed, MergeStatus::Conflict])?
                    .iter()
                    .filter(|x| x.mr.bead == e.mr.bead)
                    .count();
                if tries <= MAX_RESLINGS {
                    match resling(cx, e) {
                        Ok(()) => {
                            reslung = true;
                            rr.reslung.push(e.mr.bead.clone());
                        }
                        Err(err) => rr.warnings.push(format!(
                            "cannot sling {} back to its polecat: {err}",
                            e.mr.bead
                        )),
                    }
                } else {
                    to.push("human".into());
                }
            }
            let from = format!("{}/refinery", cx.rig);
            rr.warnings.extend(notify(
                cx.ws,
                &from,
                &to,
                &format!(
                    "Merge {}: {}{}",
                    e.mr.status,
                    e.mr.bead,
                    if reslung { " (slung back)" } else { "" }
                ),
                &format!(
                    "Merge request {} ({}) did not land on {} of rig {}.\n\n{}",
                    e.mr.id,
                    e.mr.branch,
                    cx.target,
                    cx.rig,
                    tail_lines(&failure, FAILURE_TAIL_LINES)
                ),
                cx.actor,
            ));
        }
        _ => {}
    }
    Ok(())
}

/// In a town of several hosts: deletes, on the rig's upstream, what gt
/// pushed there for merged requests — each polecat branch (only if it still
/// points at its request's head) and its bead's checkpoint ref — in one push,
/// and the checkpoint refs in this clone. Their commits are on the target
/// now. What cannot be deleted stays (a warning); nothing retries it.
fn delete_upstream_refs(cx: &Ctx<'_>, merged: &[&MergeEntry]) -> Vec<String> {
    if merged.is_empty() || !crate::hosts::shares_code(cx.ws).unwrap_or(false) {
        return Vec::new();
    }
    let branches: Vec<String> = merged
        .iter()
        .map(|e| format!("refs/heads/{}", e.mr.branch))
        .collect();
    let checkpoints: Vec<String> = merged
        .iter()
        .map(|e| crate::checkpoint::refname(&e.mr.bead))
        .collect();
    let mut refs: Vec<(&str, Option<&str>)> = Vec::new();
    for (i, e) in merged.iter().enumerate() {
        refs.push((branches[i].as_str(), Some(e.mr.head_commit.as_str())));
        refs.push((checkpoints[i].as_str(), None));
    }
    let mut warnings = Vec::new();
    if let Err(e) = cx.ws.host.git.delete_remote_refs(&cx.repo, &refs) {
        warnings.push(format!(
            "cannot delete merged branches on the upstream: {e}"
        ));
    }
    for c in &checkpoints {
        if let Ok(Some(at)) = cx.ws.host.git.resolve(&cx.repo, c) {
            if let Err(e) = cx.ws.host.git.delete_ref(&cx.repo, c, &at) {
                warnings.push(format!("cannot delete {c}: {e}"));
            }
        }
    }
    warnings
}

/// Deletes merged requests' branches, each only if it still points at its
/// request's head (a compare-and-swap). An idle polecat's worktree still on
/// one is detached first (its files are untouched); a branch in use is kept.
/// One answer per entry, in order.
fn delete_branches(cx: &Ctx<'_>, entries: &[&MergeEntry]) -> Vec<std::result::Result<(), String>> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut answers: Vec<Option<std::result::Result<(), String>>> = vec![None; entries.len()];
    let all_failed = |err: Error| entries.iter().map(|_| Err(err.to_string())).collect();
    let _lock = match cx.ws.lock_rig(&cx.rig) {
        Ok(l) => l,
        Err(err) => return all_failed(err),
    };
    let mut worktrees = match cx.ws.host.git.worktree_list(&cx.repo) {
        Ok(w) => w,
        Err(err) => return all_failed(err),
    };
    let refnames: Vec<String> = entries
        .iter()
        .map(|e| format!("refs/heads/{}", e.mr.branch))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        if let Err(err) = free_branch(cx, e, &refnames[i], &mut worktrees) {
            answers[i] = Some(err);
        }
    }
    let todo: Vec<usize> = (0..entries.len())
        .filter(|i| answers[*i].is_none())
        .collect();
    let refs: Vec<(&str, &str)> = todo
        .iter()
        .map(|&i| (refnames[i].as_str(), entries[i].mr.head_commit.as_str()))
        .collect();
    let results = cx.ws.host.git.delete_refs(&cx.repo, &refs);
    for (i, r) in todo.into_iter().zip(results) {
        answers[i] = Some(r.map_err(|e| e.to_string()));
    }
    answers.into_iter().map(|a| a.unwrap_or(Ok(()))).collect()
}

/// Makes sure no worktree has the branch of merged request `e` checked out
/// (detaching an idle polecat's clean worktree). `Err(Ok(()))` when there is
/// nothing to delete (the branch is gone), `Err(Err(why))` when it is kept.
fn free_branch(
    cx: &Ctx<'_>,
    e: &MergeEntry,
    refname: &str,
    worktrees: &mut [crate::git::WorktreeInfo],
) -> std::result::Result<(), std::result::Result<(), String>> {
    let keep = |err: Error| Err(Err(err.to_string()));
    if !worktrees
        .iter()
        .any(|w| w.branch.as_deref() == Some(e.mr.branch.as_str()))
    {
        // Nobody has it checked out: the compare-and-swap delete decides.
        return Ok(());
    }
    // Before touching a worktree: the branch must still be the merged head.
    match cx.ws.host.git.resolve(&cx.repo, refname) {
        Ok(None) => return Err(Ok(())),
        Ok(Some(tip)) if tip != e.mr.head_commit => {
            return keep(Error::refused("it has commits beyond the merged head"))
        }
        Ok(Some(_)) => {}
        Err(err) => return keep(err),
    }
    for w in worktrees.iter_mut() {
        if w.branch.as_deref() != Some(e.mr.branch.as_str()) {
            continue;
        }
        let Some((rig, pc)) = cx.ws.polecat_at(&w.path) else {
            return keep(Error::refused(format!(
                "it is checked out in {}",
                w.path.display()
            )));
        };
        let busy = cx
            .ws
            .store
            .get_polecat(&rig, &pc)
            .map(|p| p.state != crate::polecat::PolecatState::Idle)
            .unwrap_or(false);
        match if busy {
            Ok(true)
        } else {
            cx.ws.host.git.is_dirty(&w.path)
        } {
            Ok(false) => {}
            Ok(true) => {
                return keep(Error::refused(format!(
                    "it is checked out by {rig}/{pc}, which is busy or has changes"
                )))
            }
            Err(err) => return keep(err),
        }
        if let Err(err) = cx.ws.host.git.detach_head(&w.path) {
            return keep(err);
        }
        w.branch = None;
        w.detached = true;
    }
    Ok(())
}

/// Slings a failed bead back to the same polecat with its last runtime.
fn resling(cx: &Ctx<'_>, e: &MergeEntry) -> Result<()> {
    let polecat =
        e.mr.polecat
            .clone()
            .ok_or_else(|| Error::refused("the request names no polecat"))?;
    let bead = cx.ws.store.get_bead(&e.mr.bead)?;
    if bead.status != crate::bead::Status::Open {
        return Err(Error::refused(format!("{} is {}", bead.id, bead.status)));
    }
    let last = cx
        .ws
        .store
        .list_sessions(&SessionFilter {
            bead: Some(&e.mr.bead),
            limit: Some(1),
            ..Default::default()
        })?
        .pop();
    let req = crate::sling::SlingRequest {
        work: vec![e.mr.bead.clone()],
        rig: Some(format!("{}/{polecat}", e.mr.rig)),
        agent: last.map(|s| s.runtime),
        cwd: cx.ws.town.root().to_path_buf(),
        ..Default::default()
    };
    crate::sling::sling(cx.ws, &req, cx.actor).map(drop)
}

/// Who slung a bead first (the actor of its first `sling` event).
fn slinger(ws: &Workspace, bead: &str) -> Option<String> {
    let evs = ws
        .store
        .events(&EventQuery {
            bead: Some(bead.to_string()),
            kinds: vec![crate::event::kind::SLING.to_string()],
            ..Default::default()
        })
        .ok()?;
    evs.first()
        .map(|e| e.actor.clone())
        .filter(|a| !a.is_empty())
}

fn convoy_landed_mail(ws: &Workspace, c: &Convoy, actor: &str) -> Option<String> {
    crate::convoy::landed_mail(ws, c, actor)
}
/// Mails `to` from `from`. A recipient that is not a mail address (a
/// person's actor name such as `alice`) is mailed as `human`. Mail problems
/// never stop the refinery: they come back as a message for its warnings.
pub fn notify(
    ws: &Workspace,
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
    actor: &str,
) -> Option<String> {
    let mut rcpt: Vec<String> = Vec::new();
    for r in to {
        let r = if crate::mail::parse(r).is_ok() {
            r.clone()
        } else {
            "human".to_string()
        };
        if !rcpt.contains(&r) {
            rcpt.push(r);
        }
    }
    if rcpt.is_empty() {
        return None;
    }
    let subject: String = subject
        .chars()
        .take(crate::mail::MAX_SUBJECT_CHARS)
        .collect();
    let body = tail_str(body, crate::mail::MAX_BODY_BYTES / 2);
    crate::mail::send(
        ws,
        from,
        &rcpt,
        &subject,
        body,
        crate::mail::Priority::Normal,
        actor,
    )
    .err()
    .map(|e| format!("cannot mail {}: {e}", rcpt.join(", ")))
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join("\n")
}

/// The tail of `text` within `max` bytes, cut on a char boundary.
fn tail_str(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn short(c: &str) -> &str {
    &c[..c.len().min(12)]
}

/// `gt mq retry`: queues a failed or conflicting request again.
pub fn retry(ws: &Workspace, id: i64, actor: &str) -> Result<MergeEntry> {
    ws.store.requeue(id, "retry requested", actor)
}

/// `gt mq remove`.
pub fn remove(ws: &Workspace, id: i64, actor: &str) -> Result<MergeEntry> {
    ws.store.remove_merge_request(id, actor)
}

/// `gt mq list`.
pub fn list(ws: &Workspace, rig: Option<&str>) -> Result<Vec<MergeEntry>> {
    if let Some(r) = rig {
        ws.store.get_rig(r)?;
    }
    ws.store.merge_entries(rig, &[])
}

/// `gt mq show`.
pub fn show(ws: &Workspace, id: i64) -> Result<MergeEntry> {
    ws.store.merge_entry(id)
}

#[cfg(test)]
mod tests;
