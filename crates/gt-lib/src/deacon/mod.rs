//! The deacon: the town's watchdog. Deterministic Rust, no AI session: it
//! finds agents that died, saves their work, restarts them with backoff or
//! gives their bead back, cleans up orphans, and dispatches queued work.
//!
//! Every action is recorded as a `deacon.*` event and is idempotent: a patrol
//! killed at any point and run again never double-restarts, double-dispatches
//! or loses anything, because each step re-reads the truth (tmux, git, the
//! store) before it acts, and the store refuses a second open session for a
//! bead or a polecat.

use std::fs::File;

use gt_core::caller::CallerEnv;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::clock::{format_ts, parse_ts};
use crate::error::{Error, Result};
use crate::event::{EventQuery, NewEvent};
use crate::polecat::PolecatState;
use crate::session::{end_reason, Session};
use crate::store::deacon::DeaconStore;
use crate::store::{EventStore, RigStore, SessionFilter, WorkStore};
use crate::tmux::SessionInfo;
use crate::town::Town;
use crate::workspace::Workspace;

pub mod completion;
mod daemon;
mod dispatch;
mod live;
mod orphans;
mod restarts;

pub use daemon::*;

/// Prefix of rate-limit marks: `ratelimit:<runtime>:<session id>`.
const RATE_LIMIT_MARK: &str = "ratelimit:";

/// How long a tmux session whose record just ended is left to gt, which is
/// ending it, before it counts as an orphan.
const ENDING_GRACE_SECS: i64 = 30;

/// The actor of everything the deacon does.
pub const ACTOR: &str = "deacon";

pub mod kind {
    pub const STARTED: &str = crate::event::EventKind::DeaconStarted.as_str();
    pub const STOPPED: &str = crate::event::EventKind::DeaconStopped.as_str();
    pub const SAVED_WORK: &str = crate::event::EventKind::DeaconSavedWork.as_str();
    pub const SESSION_DEAD: &str = crate::event::EventKind::DeaconSessionDead.as_str();
    pub const RESTARTED: &str = crate::event::EventKind::DeaconRestarted.as_str();
    pub const RESTART_FAILED: &str = crate::event::EventKind::DeaconRestartFailed.as_str();
    pub const GAVE_UP: &str = crate::event::EventKind::DeaconGaveUp.as_str();
    pub const ORPHAN_FOUND: &str = crate::event::EventKind::DeaconOrphanFound.as_str();
    pub const ORPHAN_CLEANED: &str = crate::event::EventKind::DeaconOrphanCleaned.as_str();
    pub const DISPATCHED: &str = crate::event::EventKind::DeaconDispatched.as_str();
    pub const NUDGED: &str = crate::event::EventKind::DeaconNudged.as_str();
    pub const ESCALATED: &str = crate::event::EventKind::DeaconEscalated.as_str();
    pub const ASKED_HUMAN: &str = crate::event::EventKind::DeaconAskedHuman.as_str();
    pub const RATE_LIMITED: &str = crate::event::EventKind::DeaconRateLimited.as_str();
    pub const RATE_LIMIT_OVER: &str = crate::event::EventKind::DeaconRateLimitOver.as_str();
    pub const ADOPTED: &str = crate::event::EventKind::DeaconAdopted.as_str();
    /// gt ran `gt done` for an agent whose CLI cannot (payload: reason, commits, head).
    pub const COMPLETED: &str = crate::event::EventKind::DeaconCompleted.as_str();
    /// A patrol step failed for one agent (payload: step, error).
    pub const AGENT_FAILED: &str = crate::event::EventKind::DeaconAgentFailed.as_str();
    /// A per-rig step (the refinery, orphan worktrees, dispatch) failed for one rig.
    pub const RIG_FAILED: &str = crate::event::EventKind::DeaconRigFailed.as_str();
    /// A patrol step failed for the whole town (tmux or the store unreadable).
    pub const PATROL_FAILED: &str = crate::event::EventKind::DeaconPatrolFailed.as_str();
    /// A step that failed for an agent, a rig or the town works again.
    pub const RECOVERED: &str = crate::event::EventKind::DeaconRecovered.as_str();
}

/// Names of the patrol steps, as faults record them.
pub mod step {
    pub const REPO_CONFIG: &str = "repo_config";
    pub const DEAD_SESSIONS: &str = "dead_sessions";
    pub const COSTS: &str = "costs";
    pub const ADOPT: &str = "adopt_unrecorded";
    pub const RESTART: &str = "restart";
    pub const COMPLETION: &str = "completion";
    pub const LIVE_AGENTS: &str = "live_agents";
    pub const NUDGES: &str = "queued_nudges";
    pub const RATE_LIMITS: &str = "rate_limits";
    pub const ORPHANS: &str = "orphans";
    pub const REFINERY: &str = "refinery";
    pub const DISPATCH: &str = "dispatch";
    pub const HOSTS: &str = "hosts";
    pub const CHECKPOINTS: &str = "checkpoints";
}

/// What a fault is about: one agent, one rig, or the whole town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// `agent`, `rig` or `town`.
    pub scope: &'static str,
    /// `rig/polecat`, the rig, or `town`.
    pub subject: String,
    #[serde(skip)]
    pub rig: Option<String>,
    #[serde(skip)]
    pub polecat: Option<String>,
}

impl Subject {
    pub fn agent(rig: &str, polecat: &str) -> Subject {
        Subject {
            scope: "agent",
            subject: format!("{rig}/{polecat}"),
            rig: Some(rig.to_string()),
            polecat: Some(polecat.to_string()),
        }
    }

    pub fn rig(rig: &str) -> Subject {
        Subject {
            scope: "rig",
            subject: rig.to_string(),
            rig: Some(rig.to_string()),
            polecat: None,
        }
    }

    pub fn town() -> Subject {
        Subject {
            scope: "town",
            subject: "town".to_string(),
            rig: None,
            polecat: None,
        }
    }
}

/// One step that failed for one subject during a patrol; the rest went on.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    #[serde(flatten)]
    pub subject: Subject,
    pub step: &'static str,
    pub error: String,
}

/// An error as one line (git's messages span several), at most 2000 chars.
pub(crate) fn error_line(e: &Error) -> String {
    let text = e.to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    line.join("; ").chars().take(2000).collect()
}

/// Records that `step` failed for `subject` (a problem in `gt status`, an
/// event when it is new or its error changed).
pub fn record_fault(ws: &Workspace, subject: &Subject, step: &str, error: &str) -> Result<bool> {
    use crate::store::deacon::NewFault;
    let kind = match subject.scope {
        "agent" => kind::AGENT_FAILED,
        "rig" => kind::RIG_FAILED,
        _ => kind::PATROL_FAILED,
    };
    let mut ev = NewEvent::new(
        kind,
        format!("{step} failed for {}: {error}", subject.subject),
    )
    .payload(json!({
        "scope": subject.scope,
        "subject": subject.subject,
        "step": step,
        "error": error,
    }));
    if let Some(r) = &subject.rig {
        ev = ev.rig(r);
    }
    let f = NewFault {
        scope: subject.scope,
        subject: &subject.subject,
        rig: subject.rig.as_deref(),
        polecat: subject.polecat.as_deref(),
        step,
        error,
    };
    ws.store.record_fault(&f, ev, ACTOR).map(|(_, new)| new)
}

/// Forgets the fault of `subject` in `step` (it works again), with an event.
pub fn clear_fault(ws: &Workspace, subject: &str, step: &str) -> Result<bool> {
    let ev = NewEvent::new(kind::RECOVERED, format!("{step} works again for {subject}"))
        .payload(json!({ "subject": subject, "step": step }));
    ws.store.clear_fault(subject, step, ev, ACTOR)
}

/// One thing a patrol did.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub kind: String,
    pub agent: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PatrolReport {
    pub started_at: String,
    pub duration_ms: u128,
    pub sessions_checked: usize,
    pub actions: Vec<Action>,
    /// Steps that failed for one agent, rig or the town; everything else was served.
    pub failures: Vec<Failure>,
}

struct Patrol<'a> {
    ws: &'a Workspace,
    now: OffsetDateTime,
    report: PatrolReport,
    /// Steps whose town-wide part ran (their faults of subjects that did
    /// not fail again this patrol are over).
    ran: Vec<&'static str>,
}

impl Patrol<'_> {
    /// Runs `f` for one subject: an error becomes that subject's fault and
    /// the patrol goes on.
    pub(super) fn guard(
        &mut self,
        subject: Subject,
        step: &'static str,
        f: impl FnOnce(&mut Self) -> Result<()>,
    ) {
        if let Err(e) = f(self) {
            self.failed(subject, step, &e);
        }
    }

    pub(super) fn failed(&mut self, subject: Subject, step: &'static str, e: &Error) {
        let error = error_line(e);
        let error = match record_fault(self.ws, &subject, step, &error) {
            Ok(_) => error,
            Err(e2) => format!("{error} (could not record it: {e2})"),
        };
        tracing::warn!(step, subject = %subject.subject, %error, "patrol step failed");
        self.report.failures.push(Failure {
            subject,
            step,
            error,
        });
    }

    /// Runs one step; a failure of its town-wide part is the town's fault.
    pub(super) fn step(&mut self, step: &'static str, f: impl FnOnce(&mut Self) -> Result<()>) {
        match f(self) {
            Ok(()) => self.ran.push(step),
            Err(e) => self.failed(Subject::town(), step, &e),
        }
    }

    /// Faults of steps that ran, for subjects that did not fail this time, are over.
    pub(super) fn clear_recovered(&mut self) {
        let faults = match self.ws.store.faults() {
            Ok(f) => f,
            Err(e) => {
                // Kept as they are; the next patrol tries again.
                tracing::warn!(%e, "cannot read the faults");
                return;
            }
        };
        for f in faults {
            let Some(step) = self.ran.iter().copied().find(|s| *s == f.step) else {
                continue;
            };
            if self
                .report
                .failures
                .iter()
                .any(|x| x.step == step && x.subject.subject == f.subject)
            {
                continue;
            }
            if let Err(e) = clear_fault(self.ws, &f.subject, step) {
                tracing::warn!(%e, "cannot clear a fault");
            }
        }
    }

    /// Records an action (event + mark) and adds it to the report.
    pub(super) fn act(
        &mut self,
        key: &str,
        kind: &'static str,
        s: Option<&Session>,
        summary: String,
        payload: serde_json::Value,
    ) -> Result<()> {
        let mut ev = NewEvent::new(kind, summary.clone()).payload(payload);
        if let Some(s) = s {
            ev = ev.rig(&s.rig).bead(&s.bead);
        }
        self.ws.store.record_action(key, ev, ACTOR)?;
        self.report.actions.push(Action {
            kind: kind.to_string(),
            agent: s.map(Session::agent),
            bead: s.map(|s| s.bead.clone()),
            summary,
        });
        Ok(())
    }

    pub(super) fn since(&self, ts: &str) -> time::Duration {
        parse_ts(ts)
            .map(|t| self.now - t)
            .unwrap_or(time::Duration::ZERO)
    }
}

/// Tells `human` something by mail, from the deacon.
pub fn tell_human(ws: &Workspace, subject: &str, body: &str) -> Result<()> {
    crate::mail::send(
        ws,
        ACTOR,
        &["human".to_string()],
        subject,
        body,
        crate::store::mail::Priority::High,
        ACTOR,
    )
    .map(drop)
}

/// Report actions of a refinery run (rigs where something happened).
fn refinery_actions(r: &crate::refinery::RefineryReport) -> Vec<Action> {
    let mut out = Vec::new();
    for rig in &r.rigs {
        let n = rig.merged.len()
            + rig.failed.len()
            + rig.conflicts.len()
            + rig.requeued.len()
            + rig.recovered.len();
        if n == 0 {
            continue;
        }
        out.push(Action {
            kind: "deacon.refinery".into(),
            agent: None,
            bead: None,
            summary: format!(
                "refinery {}: {} merged, {} failed, {} conflicts, {} re-slung",
                rig.rig,
                rig.merged.len(),
                rig.failed.len(),
                rig.conflicts.len(),
                rig.reslung.len()
            ),
        });
    }
    out
}

/// One patrol, in order (the steps of [`step`]): hosts declared dead, rig
/// clones and repository configs,
/// dead sessions (save, end), recently ended sessions' usage read again, unrecorded sessions adopted, restarts or
/// releases, agents finished at their prompt ([`completion`]), live agents that need something, queued nudges, rate limits,
/// orphans, the refinery, dispatch of queued beads.
///
/// One fault never stops the town: a step that fails for one agent or one
/// rig becomes that agent's or rig's fault (a problem in `gt status`, an
/// event), and everything else is still served in the same patrol. A fault
/// is forgotten once its step works again for its subject.
pub fn patrol(ws: &Workspace) -> Result<PatrolReport> {
    patrol_with(ws, true)
}

/// [`patrol`]; `with_refinery: false` leaves the refinery out (the daemon
/// runs it beside the patrol, one thread per rig).
pub fn patrol_with(ws: &Workspace, with_refinery: bool) -> Result<PatrolReport> {
    let started = Instant::now();
    let now = ws.town.clock().now();
    let mut p = Patrol {
        ws,
        now,
        report: PatrolReport {
            started_at: format_ts(now),
            ..Default::default()
        },
        ran: Vec::new(),
    };
    // Hosts whose heartbeat stopped are declared dead, their work queued
    // again (the daemon also heartbeats, beside the patrol).
    p.step(step::HOSTS, |p| {
        for a in crate::hosts::patrol_step(p.ws, None, ACTOR)? {
            p.report.actions.push(Action {
                kind: "host".to_string(),
                agent: None,
                bead: None,
                summary: a,
            });
        }
        Ok(())
    });
    p.step(step::REPO_CONFIG, |p| p.guard_repo_configs());
    p.step(step::DEAD_SESSIONS, |p| p.end_dead_sessions());
    p.step(step::COSTS, |p| {
        crate::costs::refresh_recent(p.ws).map(drop)
    });
    p.step(step::ADOPT, |p| {
        let adopted = crate::sling::adopt_unrecorded(p.ws)?;
        p.report.actions.extend(adopted);
        Ok(())
    });
    p.step(step::RESTART, |p| p.restart_or_release());
    p.step(step::COMPLETION, |p| p.completions());
    p.step(step::LIVE_AGENTS, |p| p.live_agents());
    p.step(step::NUDGES, |p| p.deliver_queued_nudges());
    p.step(step::CHECKPOINTS, |p| p.checkpoints());
    let mut held = Vec::new();
    p.step(step::RATE_LIMITS, |p| {
        held = p.rate_limits()?;
        Ok(())
    });
    p.step(step::ORPHANS, |p| p.orphans());
    if with_refinery {
        p.step(step::REFINERY, |p| p.refinery());
    }
    p.step(step::DISPATCH, |p| p.dispatch(&held));
    p.clear_recovered();
    let mut report = p.report;
    report.duration_ms = started.elapsed().as_millis();
    ws.store.deacon_heartbeat(report.actions.len() as u64)?;
    Ok(report)
}

// ---- the daemon -------------------------------------------------------------
