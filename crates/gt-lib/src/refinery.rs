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

/// Merge request statuses and the refinery's event kinds (in `gt-core`, where
/// the store backends read them too).
pub use gt_core::merge::{kind, mr_status};

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

/// How a request is put onto the target (`merge.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Rebase,
    Merge,
    Squash,
}

/// What a failed request becomes (`merge.on_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    Resling,
    Leave,
}

/// A rig's refinery settings, from `gt rig config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigSettings {
    pub strategy: Strategy,
    pub batch: usize,
    pub on_failure: OnFailure,
    pub push: bool,
    /// `(name, command)`, by name.
    pub gates: Vec<(String, String)>,
    pub gate_timeout: Duration,
}

impl Default for RigSettings {
    fn default() -> Self {
        RigSettings {
            strategy: Strategy::Rebase,
            batch: 4,
            on_failure: OnFailure::Resling,
            push: false,
            gates: Vec::new(),
            gate_timeout: Duration::from_secs(600),
        }
    }
}

/// The keys `gt rig config` accepts (`gates.<name>` for any gate name).
pub const CONFIG_KEYS: &[&str] = &[
    "merge.strategy",
    "merge.batch",
    "merge.on_failure",
    "push",
    "gates.timeout",
    "gates.<name>",
    "agent",
];

/// Checks `key` and turns the text `value` into the value stored.
pub fn parse_config_value(key: &str, value: &str) -> Result<Value> {
    let bad = |what: &str| {
        Error::invalid(format!(
            "bad value '{}' for {key}: {what}",
            value.escape_debug()
        ))
    };
    match key {
        "merge.strategy" => match value {
            "rebase" | "merge" | "squash" => Ok(Value::from(value)),
            _ => Err(bad("use rebase, merge or squash")),
        },
        "merge.on_failure" => match value {
            "resling" | "leave" => Ok(Value::from(value)),
            _ => Err(bad("use resling or leave")),
        },
        "merge.batch" => match value.parse::<u64>() {
            Ok(n @ 1..=64) => Ok(Value::from(n)),
            _ => Err(bad("a number from 1 to 64")),
        },
        "gates.timeout" => match value.parse::<u64>() {
            Ok(n @ 1..=86_400) => Ok(Value::from(n)),
            _ => Err(bad("seconds, from 1 to 86400")),
        },
        "agent" => crate::runtime::validate_agent_name(value).map(|_| Value::from(value)),
        "push" => match value {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad("use true or false")),
        },
        _ => {
            let Some(name) = key.strip_prefix("gates.") else {
                return Err(Error::invalid(format!(
                    "unknown rig config key '{}': use one of {}",
                    key.escape_debug(),
                    CONFIG_KEYS.join(", ")
                )));
            };
            crate::polecat::validate_name("gate", name)?;
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(bad("a command without control characters"));
            }
            match shell_words::split(value) {
                Ok(argv) if !argv.is_empty() => Ok(Value::from(value)),
                Ok(_) => Err(bad("an empty command")),
                Err(e) => Err(bad(&format!("cannot split it into arguments ({e})"))),
            }
        }
    }
}

/// Checks a key for `gt rig config RIG KEY` (reading or unsetting).
pub fn check_config_key(key: &str) -> Result<()> {
    if let Some(name) = key.strip_prefix("gates.") {
        if name == "timeout" {
            return Ok(());
        }
        return crate::polecat::validate_name("gate", name);
    }
    if CONFIG_KEYS.contains(&key) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "unknown rig config key '{}': use one of {}",
        key.escape_debug(),
        CONFIG_KEYS.join(", ")
    )))
}

impl RigSettings {
    /// Reads the stored config; values that do not parse fall back to defaults.
    pub fn from_config(map: &Map<String, Value>) -> RigSettings {
        let mut s = RigSettings::default();
        for (k, v) in map {
            match (k.as_str(), v) {
                ("merge.strategy", Value::String(x)) => match x.as_str() {
                    "merge" => s.strategy = Strategy::Merge,
                    "squash" => s.strategy = Strategy::Squash,
                    _ => s.strategy = Strategy::Rebase,
                },
                ("merge.batch", v) => {
                    if let Some(n) = v.as_u64().filter(|n| (1..=64).contains(n)) {
                        s.batch = n as usize;
                    }
                }
                ("merge.on_failure", Value::String(x)) => {
                    s.on_failure = if x == "leave" {
                        OnFailure::Leave
                    } else {
                        OnFailure::Resling
                    }
                }
                ("push", Value::Bool(b)) => s.push = *b,
                ("gates.timeout", v) => {
                    if let Some(n) = v.as_u64().filter(|n| *n >= 1) {
                        s.gate_timeout = Duration::from_secs(n);
                    }
                }
                (k, Value::String(cmd)) if k.starts_with("gates.") => {
                    s.gates.push((k["gates.".len()..].to_string(), cmd.clone()));
                }
                _ => {}
            }
        }
        s.gates.sort();
        s
    }
}

/// `gt rig config RIG KEY VALUE`: validates and stores one key.
pub fn set_config(
    ws: &Workspace,
    rig: &str,
    key: &str,
    value: Option<&str>,
    actor: &str,
) -> Result<Map<String, Value>> {
    ws.store.get_rig(rig)?;
    check_config_key(key)?;
    let v = value.map(|v| parse_config_value(key, v)).transpose()?;
    if key == "agent" {
        // The rig's default agent (a column of the rig, shown by `gt rig
        // show`); it must be one the town knows.
        if let Some(name) = value {
            ws.town.config.runtime(name)?;
        }
        ws.store.set_rig_agent(rig, value, actor)?;
        let mut map = ws.store.rig_config(rig)?;
        if let Some(name) = value {
            map.insert("agent".into(), Value::from(name));
        }
        return Ok(map);
    }
    ws.store.set_rig_config(rig, key, v, actor)
}

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
    let _identity = ws.git.identity_cache();
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
        .merge_entries(Some(rig_name), &[mr_status::QUEUED])?
        .last()
        .map(|e| e.mr.id)
        .unwrap_or(0);
    // Land on top of the upstream: fetch first (a failure is a warning).
    if horizon > 0 {
        if let Err(e) = crate::rig::fetch(ws, rig_name, actor) {
            rr.warnings.push(e.to_string());
        }
    }
    let mut lost_races = 0;
    loop {
        let mut queued = ws
            .store
            .merge_entries(Some(rig_name), &[mr_status::QUEUED])?;
        queued.retain(|e| e.mr.id <= horizon);
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

/// Finishes landings a previous run left half-way.
fn recover(cx: &Ctx<'_>, rr: &mut RigReport, convoys: &mut Vec<Convoy>) -> Result<()> {
    let landing = cx
        .ws
        .store
        .merge_entries(Some(&cx.rig), &[mr_status::LANDING])?;
    if landing.is_empty() {
        return Ok(());
    }
    let tip = cx.target_tip()?;
    let mut done = Vec::new();
    for e in landing {
        let commit = e.landing_commit.clone().unwrap_or_default();
        let on_target = !commit.is_empty()
            && cx.ws.git.resolve(&cx.repo, &commit)?.is_some()
            && cx.ws.git.is_ancestor(&cx.repo, &commit, &tip)?;
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
        if let Err(e) = cx.ws.git.push(&cx.repo, &tip, &cx.target) {
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
        cx.ws.git.worktree_prune(&cx.repo)?;
        cx.ws.git.worktree_add_detached(&cx.repo, &cx.wt, commit)?;
    }
    cx.ws.git.reset_detached(&cx.wt, commit)
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
            .git
            .rebase(&cx.wt, top, Some(&e.mr.head_commit), false),
        Strategy::Merge => {
            cx.ws.git.reset_detached(&cx.wt, top)?;
            let msg = format!(
                "Merge {} ({}): {}\n\nmerge request {}",
                e.mr.branch,
                e.mr.bead,
                title(),
                e.mr.id
            );
            cx.ws
                .git
                .merge_into_head(&cx.wt, &e.mr.head_commit, &msg, false)
        }
        Strategy::Squash => {
            cx.ws.git.reset_detached(&cx.wt, top)?;
            let msg = format!(
                "{}: {}\n\nSquashed from {} (merge request {})",
                e.mr.bead,
                title(),
                e.mr.branch,
                e.mr.id
            );
            cx.ws
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
    let found = cx.ws.git.resolve_many(&cx.repo, &heads)?;
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
    let verified = now == top && cx.ws.git.all_ancestors(&cx.repo, &must_contain, &now)?;
    if !verified {
        requeue_all("the target did not verify after the move")?;
        return Ok(Round::TargetMoved);
    }
    if cx.settings.push {
        if let Err(err) = cx.ws.git.push(&cx.repo, &top, &cx.target) {
            // Not landed: put the local target back where it was.
            let _ = cx
                .ws
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
        .filter(|e| e.mr.status == mr_status::MERGED)
        .collect();
    let mut deleted = delete_branches(cx, &merged).into_iter();
    for e in pending {
        let branch_deleted = if e.mr.status == mr_status::MERGED {
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
    match e.mr.status.as_str() {
        mr_status::MERGED => {
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
        mr_status::FAILED | mr_status::CONFLICT => {
            let failure = e.failure.clone().unwrap_or_default();
            let resling_kind = e.mr.status == mr_status::CONFLICT || failure.starts_with("gate ");
            let mut reslung = false;
            if resling_kind && cx.settings.on_failure == OnFailure::Resling {
                let tries = cx
                    .ws
                    .store
                    .merge_entries(Some(&cx.rig), &[mr_status::FAILED, mr_status::CONFLICT])?
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
    let mut worktrees = match cx.ws.git.worktree_list(&cx.repo) {
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
    let results = cx.ws.git.delete_refs(&cx.repo, &refs);
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
    match cx.ws.git.resolve(&cx.repo, refname) {
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
            cx.ws.git.is_dirty(&w.path)
        } {
            Ok(false) => {}
            Ok(true) => {
                return keep(Error::refused(format!(
                    "it is checked out by {rig}/{pc}, which is busy or has changes"
                )))
            }
            Err(err) => return keep(err),
        }
        if let Err(err) = cx.ws.git.detach_head(&w.path) {
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
    notify(
        ws,
        "mayor",
        &["human".to_string()],
        &format!("Convoy landed: {}", c.name),
        &format!(
            "Convoy {} ({}) landed: all {} bead(s) are closed: {}",
            c.id,
            c.name,
            c.total,
            c.beads.join(", ")
        ),
        actor,
    )
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

/// Runs the rig's gates in the refinery worktree at `commit`: `None` when all
/// pass, else the failure (gate name and the tail of its output).
fn run_gates(cx: &Ctx<'_>, commit: &str, rr: &mut RigReport) -> Result<Option<String>> {
    if cx.settings.gates.is_empty() {
        return Ok(None);
    }
    cx.ws.git.reset_detached(&cx.wt, commit)?;
    rr.gate_runs += 1;
    let log_dir = cx.ws.town.state_dir().join("logs");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| Error::io(format!("cannot create {}", log_dir.display()), e))?;
    for (name, command) in &cx.settings.gates {
        let log = log_dir.join(format!("refinery-{}-gate.log", cx.rig));
        let started = |pid: u32| {
            cx.ws.store.gate_started(&GateRun {
                rig: cx.rig.clone(),
                pgid: pid,
                start_ticks: proc_stat(pid).map(|s| s.start_ticks),
                gate: name.clone(),
                command: command.clone(),
                started_at: crate::clock::format_ts(cx.ws.town.clock().now()),
            })
        };
        let finished = |pid: u32| cx.ws.store.gate_finished(&cx.rig, pid, None, cx.actor);
        let watch = GateWatch {
            started: &started,
            finished: &finished,
            stop: cx.stop,
        };
        match run_gate(&cx.wt, command, cx.settings.gate_timeout, &log, &watch)? {
            GateOutcome::Passed => {}
            GateOutcome::Failed(code, out) => {
                return Ok(Some(format!(
                    "gate '{name}' failed ({code}): {command}\n{}",
                    tail_lines(&out, FAILURE_TAIL_LINES)
                )))
            }
            GateOutcome::TimedOut(out) => {
                return Ok(Some(format!(
                    "gate '{name}' timed out after {}s: {command}\n{}",
                    cx.settings.gate_timeout.as_secs(),
                    tail_lines(&out, FAILURE_TAIL_LINES)
                )))
            }
        }
    }
    Ok(None)
}

enum GateOutcome {
    Passed,
    Failed(String, String),
    TimedOut(String),
}

/// Who is told about a gate's process group, and when to give up.
struct GateWatch<'a> {
    /// The gate runs as process group `pid` (recorded before it may go on).
    started: &'a dyn Fn(u32) -> Result<()>,
    /// The group is over: every process of it was killed or had ended.
    finished: &'a dyn Fn(u32) -> Result<()>,
    /// Set when the refinery must stop: the gate is killed, an error returned.
    stop: Option<&'a AtomicBool>,
}

/// Runs one gate command (argv split with shell rules, no shell) in its own
/// process group, output to `log`. The group is recorded (`watch.started`)
/// and killed whole when the gate ends, times out or the refinery stops, so
/// nothing it started outlives it or `gates.timeout`.
fn run_gate(
    dir: &Path,
    command: &str,
    timeout: Duration,
    log: &Path,
    watch: &GateWatch<'_>,
) -> Result<GateOutcome> {
    use std::os::unix::process::CommandExt;
    let argv = shell_words::split(command)
        .map_err(|e| Error::invalid(format!("gate command cannot be split: {e}")))?;
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::invalid("empty gate command"));
    };
    let out =
        File::create(log).map_err(|e| Error::io(format!("cannot create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io("cannot duplicate the gate log", e))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env("GT_REFINERY", "1")
        .process_group(0);
    for k in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(k);
    }
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(GateOutcome::Failed(
                "could not start".into(),
                format!("cannot run {program}: {e}"),
            ))
        }
    };
    let pgid = child.id();
    // Kills the whole group, reaps the leader, and says the group is over.
    let end = |child: &mut std::process::Child| -> Result<()> {
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        (watch.finished)(pgid)
    };
    if let Err(e) = (watch.started)(pgid) {
        // Never a gate that a later refinery could not find.
        kill_group(pgid);
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // Whatever it left running in its group goes with it.
                kill_group(pgid);
                (watch.finished)(pgid)?;
                return Ok(if status.success() {
                    GateOutcome::Passed
                } else {
                    GateOutcome::Failed(
                        status
                            .code()
                            .map(|c| format!("exit code {c}"))
                            .unwrap_or_else(|| "killed by a signal".into()),
                        read_log(),
                    )
                });
            }
            Ok(None) if start.elapsed() >= timeout => {
                end(&mut child)?;
                return Ok(GateOutcome::TimedOut(read_log()));
            }
            Ok(None) if watch.stop.is_some_and(|s| s.load(Ordering::Relaxed)) => {
                end(&mut child)?;
                return Err(Error::Environment(
                    "the refinery was stopped during a gate; its requests stay queued".into(),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = end(&mut child);
                return Err(Error::io("cannot wait for a gate", e));
            }
        }
    }
}

/// SIGKILL to every process of group `pgid` (gone already is fine).
pub(crate) fn kill_group(pgid: u32) {
    use rustix::process::{kill_process_group, Pid, Signal};
    if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// What `/proc/PID/stat` says about a process (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    zombie: bool,
    pgrp: u32,
    /// Start time, clock ticks after boot.
    start_ticks: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// Parses `/proc/PID/stat`: the command name (in parentheses, may hold
/// anything) ends at the last `)`; state is field 3, pgrp 5, starttime 22.
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        zombie: matches!(*f.first()?, "Z" | "X"),
        pgrp: f.get(2)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

/// Processes (not zombies) of group `pgid` still running.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_stat(*pid).is_some_and(|s| s.pgrp == pgid && !s.zombie))
        .collect()
}

/// Whether `g`'s group still has processes that are the gate's (not a later
/// process that was given the same pid: a group id is not handed out again
/// while any process of the group lives, so only the leader can be a stranger).
fn stale_gate_alive(g: &GateRun) -> bool {
    match proc_stat(g.pgid) {
        Some(leader) if leader.pgrp != g.pgid => false,
        Some(leader) if g.start_ticks.is_some_and(|t| t != leader.start_ticks) => false,
        _ => !group_members(g.pgid).is_empty(),
    }
}

/// Kills the recorded gate groups of `rig` whose refinery died (the caller
/// holds the rig's refinery lock), waits for them to be gone, and forgets them.
fn reap_stale_gates(ws: &Workspace, rig: &str, actor: &str) -> Result<()> {
    for g in ws.store.gate_runs()?.into_iter().filter(|g| g.rig == rig) {
        let event = if stale_gate_alive(&g) {
            kill_group(g.pgid);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !group_members(g.pgid).is_empty() {
                if Instant::now() > deadline {
                    return Err(Error::Environment(format!(
                        "gate '{}' of rig {rig} (process group {}) left by a refinery that died does not end",
                        g.gate, g.pgid
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(
                crate::event::NewEvent::new(
                    kind::GATE_KILLED,
                    format!(
                        "killed gate '{}' of rig {rig} (process group {}, started {}) left by a refinery that died",
                        g.gate, g.pgid, g.started_at
                    ),
                )
                .rig(rig)
                .payload(serde_json::json!({
                    "pgid": g.pgid,
                    "gate": g.gate,
                    "command": g.command,
                    "started_at": g.started_at,
                })),
            )
        } else {
            None
        };
        ws.store.gate_finished(rig, g.pgid, event, actor)?;
    }
    Ok(())
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

/// What `gt rebase` did.
#[derive(Debug, Clone, Serialize)]
pub struct RebaseReport {
    pub agent: String,
    pub branch: String,
    pub onto: String,
    pub old_head: String,
    pub head: String,
    /// Commits of the branch beyond the target after the rebase.
    pub commits: usize,
}

/// `gt rebase`, run inside a polecat: rebases its branch onto the current tip
/// of the rig's target branch. On a conflict the rebase is aborted (nothing
/// changes) and the error lists the files. `prefer_mine` resolves
/// conflicting hunks in favour of the branch's own changes.
pub fn rebase_polecat(ws: &Workspace, cwd: &Path, prefer_mine: bool) -> Result<RebaseReport> {
    let h = crate::sling::hook(ws, cwd)?;
    let rig = ws.store.get_rig(&h.rig)?;
    let repo = ws.repo_dir(&rig.name);
    let wt = &h.worktree;
    if ws.git.is_dirty(wt)? {
        return Err(Error::refused(
            "uncommitted changes in the worktree: commit them first, then gt rebase",
        ));
    }
    let head = ws
        .git
        .resolve(wt, "HEAD")?
        .ok_or_else(|| Error::refused("the worktree has no HEAD commit"))?;
    let tip = ws.git.resolve(&repo, &format!("refs/heads/{}", h.branch))?;
    if tip.as_deref() != Some(head.as_str()) {
        return Err(Error::refused(format!(
            "HEAD is not the tip of {}: switch to it (git switch {}) first",
            h.branch, h.branch
        )));
    }
    let onto = ws
        .git
        .resolve(&repo, &format!("refs/heads/{}", rig.branch))?
        .ok_or_else(|| {
            Error::Environment(format!("rig {} has no branch {}", rig.name, rig.branch))
        })?;
    match ws.git.rebase(wt, &onto, None, prefer_mine)? {
        Integration::Done(new) => Ok(RebaseReport {
            agent: h.agent,
            commits: ws.git.count_commits_between(&repo, &onto, &new)?,
            branch: h.branch,
            onto,
            old_head: head,
            head: new,
        }),
        Integration::Conflict(files) => Err(Error::refused(format!(
            "rebasing {} onto {} ({}) conflicts in: {}; nothing was changed. Resolve by hand: \
             git rebase {} (or gt rebase --prefer-mine to keep your side of conflicting lines)",
            h.branch,
            rig.branch,
            short(&onto),
            files.join(", "),
            short(&onto)
        ))),
    }
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
mod tests {
    use super::*;

    #[test]
    fn refinery_config_values_are_validated() {
        assert_eq!(
            parse_config_value("merge.strategy", "squash").unwrap(),
            Value::from("squash")
        );
        assert!(parse_config_value("merge.strategy", "octopus").is_err());
        assert_eq!(
            parse_config_value("merge.batch", "8").unwrap(),
            Value::from(8)
        );
        assert!(parse_config_value("merge.batch", "0").is_err());
        assert!(parse_config_value("merge.batch", "-1").is_err());
        assert_eq!(
            parse_config_value("push", "true").unwrap(),
            Value::Bool(true)
        );
        assert!(parse_config_value("push", "maybe").is_err());
        assert!(parse_config_value("merge.on_failure", "leave").is_ok());
        assert!(parse_config_value("gates.test", "cargo test --all").is_ok());
        assert!(parse_config_value("gates.test", "sh -c 'unterminated").is_err());
        assert!(parse_config_value("gates.test", "").is_err());
        assert!(parse_config_value("gates.Bad Name", "true").is_err());
        assert!(parse_config_value("gates.t", "a\u{1b}[2J").is_err());
        assert!(parse_config_value("nope", "1").is_err());
        assert!(check_config_key("gates.timeout").is_ok());
        assert!(check_config_key("merge.whatever").is_err());
    }

    #[test]
    fn refinery_settings_from_config() {
        let mut m = Map::new();
        m.insert("merge.strategy".into(), "merge".into());
        m.insert("merge.batch".into(), 2.into());
        m.insert("push".into(), true.into());
        m.insert("gates.b".into(), "false".into());
        m.insert("gates.a".into(), "true".into());
        m.insert("gates.timeout".into(), 5.into());
        let s = RigSettings::from_config(&m);
        assert_eq!(s.strategy, Strategy::Merge);
        assert_eq!(s.batch, 2);
        assert!(s.push);
        assert_eq!(s.gate_timeout, Duration::from_secs(5));
        assert_eq!(s.gates[0].0, "a");
        assert_eq!(
            RigSettings::from_config(&Map::new()),
            RigSettings::default()
        );
    }

    #[test]
    fn refinery_gate_timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let start = Instant::now();
        let started = |_: u32| Ok(());
        let finished = |_: u32| Ok(());
        let w = GateWatch {
            started: &started,
            finished: &finished,
            stop: None,
        };
        let r = run_gate(
            dir.path(),
            "sh -c 'sleep 30 & sleep 30'",
            Duration::from_millis(300),
            &log,
            &w,
        )
        .unwrap();
        assert!(matches!(r, GateOutcome::TimedOut(_)));
        assert!(start.elapsed() < Duration::from_secs(5));
        let r = run_gate(
            dir.path(),
            "sh -c 'echo boom; exit 3'",
            Duration::from_secs(5),
            &log,
            &w,
        )
        .unwrap();
        match r {
            GateOutcome::Failed(code, out) => {
                assert_eq!(code, "exit code 3");
                assert!(out.contains("boom"));
            }
            _ => panic!("expected a failure"),
        }
        assert!(matches!(
            run_gate(dir.path(), "true", Duration::from_secs(5), &log, &w).unwrap(),
            GateOutcome::Passed
        ));
        assert!(matches!(
            run_gate(
                dir.path(),
                "no-such-program-gt",
                Duration::from_secs(5),
                &log,
                &w
            )
            .unwrap(),
            GateOutcome::Failed(..)
        ));
    }

    #[test]
    fn refinery_proc_stat_is_parsed_past_odd_command_names() {
        let line =
            "1234 (sh) x (y)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(
            parse_proc_stat(line),
            Some(ProcStat {
                zombie: false,
                pgrp: 1234,
                start_ticks: 98765
            })
        );
        assert!(parse_proc_stat("garbage").is_none());
        let me = proc_stat(std::process::id()).unwrap();
        assert!(!me.zombie);
    }

    #[test]
    fn refinery_gate_group_is_recorded_and_nothing_outlives_it() {
        use std::cell::RefCell;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let pidfile = dir.path().join("bg.pid");
        let seen = RefCell::new(Vec::new());
        let started = |pid: u32| {
            seen.borrow_mut().push(("started", pid));
            Ok(())
        };
        let finished = |pid: u32| {
            seen.borrow_mut().push(("finished", pid));
            Ok(())
        };
        let w = GateWatch {
            started: &started,
            finished: &finished,
            stop: None,
        };
        // The gate passes but leaves a child behind: the child goes with it.
        let cmd = format!("sh -c 'sleep 30 & echo $! > {}'", pidfile.display());
        let r = run_gate(dir.path(), &cmd, Duration::from_secs(10), &log, &w).unwrap();
        assert!(matches!(r, GateOutcome::Passed));
        let bg: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while proc_stat(bg).is_some_and(|s| !s.zombie) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            proc_stat(bg).is_none_or(|s| s.zombie),
            "the gate's child lives on"
        );
        let calls = seen.borrow().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0].0, "started");
        assert_eq!(calls[1], ("finished", calls[0].1));
        // A stop kills a running gate at once and is an error (nothing passed).
        let stop = AtomicBool::new(true);
        let w = GateWatch {
            started: &started,
            finished: &finished,
            stop: Some(&stop),
        };
        let t = Instant::now();
        assert!(run_gate(dir.path(), "sleep 30", Duration::from_secs(60), &log, &w).is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
        // A gate that cannot be recorded does not run on.
        let refuse = |_: u32| Err(Error::refused("no store"));
        let w = GateWatch {
            started: &refuse,
            finished: &finished,
            stop: None,
        };
        let t = Instant::now();
        assert!(run_gate(dir.path(), "sleep 30", Duration::from_secs(60), &log, &w).is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn refinery_tail_lines() {
        assert_eq!(tail_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(tail_lines("", 2), "");
    }
}
