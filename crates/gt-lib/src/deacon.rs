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

/// Prefix of rate-limit marks: `ratelimit:<runtime>:<session id>`.
const RATE_LIMIT_MARK: &str = "ratelimit:";

/// How long a tmux session whose record just ended is left to gt, which is
/// ending it, before it counts as an orphan.
const ENDING_GRACE_SECS: i64 = 30;

/// The actor of everything the deacon does.
pub const ACTOR: &str = "deacon";

pub mod kind {
    pub const STARTED: &str = "deacon.started";
    pub const STOPPED: &str = "deacon.stopped";
    pub const SAVED_WORK: &str = "deacon.saved_work";
    pub const SESSION_DEAD: &str = "deacon.session_dead";
    pub const RESTARTED: &str = "deacon.restarted";
    pub const RESTART_FAILED: &str = "deacon.restart_failed";
    pub const GAVE_UP: &str = "deacon.gave_up";
    pub const ORPHAN_FOUND: &str = "deacon.orphan_found";
    pub const ORPHAN_CLEANED: &str = "deacon.orphan_cleaned";
    pub const DISPATCHED: &str = "deacon.dispatched";
    pub const NUDGED: &str = "deacon.nudged";
    pub const ESCALATED: &str = "deacon.escalated";
    pub const ASKED_HUMAN: &str = "deacon.asked_human";
    pub const RATE_LIMITED: &str = "deacon.rate_limited";
    pub const RATE_LIMIT_OVER: &str = "deacon.rate_limit_over";
    pub const ADOPTED: &str = "deacon.adopted";
    /// A patrol step failed for one agent (payload: step, error).
    pub const AGENT_FAILED: &str = "deacon.agent_failed";
    /// A per-rig step (the refinery, orphan worktrees, dispatch) failed for one rig.
    pub const RIG_FAILED: &str = "deacon.rig_failed";
    /// A patrol step failed for the whole town (tmux or the store unreadable).
    pub const PATROL_FAILED: &str = "deacon.patrol_failed";
    /// A step that failed for an agent, a rig or the town works again.
    pub const RECOVERED: &str = "deacon.recovered";
}

/// Names of the patrol steps, as faults record them.
pub mod step {
    pub const REPO_CONFIG: &str = "repo_config";
    pub const DEAD_SESSIONS: &str = "dead_sessions";
    pub const ADOPT: &str = "adopt_unrecorded";
    pub const RESTART: &str = "restart";
    pub const LIVE_AGENTS: &str = "live_agents";
    pub const NUDGES: &str = "queued_nudges";
    pub const RATE_LIMITS: &str = "rate_limits";
    pub const ORPHANS: &str = "orphans";
    pub const REFINERY: &str = "refinery";
    pub const DISPATCH: &str = "dispatch";
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
fn error_line(e: &Error) -> String {
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
    fn guard(
        &mut self,
        subject: Subject,
        step: &'static str,
        f: impl FnOnce(&mut Self) -> Result<()>,
    ) {
        if let Err(e) = f(self) {
            self.failed(subject, step, &e);
        }
    }

    fn failed(&mut self, subject: Subject, step: &'static str, e: &Error) {
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
    fn step(&mut self, step: &'static str, f: impl FnOnce(&mut Self) -> Result<()>) {
        match f(self) {
            Ok(()) => self.ran.push(step),
            Err(e) => self.failed(Subject::town(), step, &e),
        }
    }

    /// Faults of steps that ran, for subjects that did not fail this time, are over.
    fn clear_recovered(&mut self) {
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
    fn act(
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

    fn since(&self, ts: &str) -> time::Duration {
        parse_ts(ts)
            .map(|t| self.now - t)
            .unwrap_or(time::Duration::ZERO)
    }

    /// Open sessions whose agent is gone: save the worktree, end the record.
    fn end_dead_sessions(&mut self) -> Result<()> {
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        self.report.sessions_checked = open.len();
        if open.is_empty() {
            return Ok(());
        }
        let tmux = self.ws.tmux.list_sessions()?;
        for s in open {
            let info = tmux.iter().find(|t| t.name == s.tmux_session).cloned();
            self.guard(
                Subject::agent(&s.rig, &s.polecat),
                step::DEAD_SESSIONS,
                |p| p.end_dead_session(&s, info.as_ref()),
            );
        }
        Ok(())
    }

    /// One open session: when its agent is gone, save its work and end it.
    /// Work that cannot be saved keeps the session open (nothing is lost).
    fn end_dead_session(&mut self, s: &Session, info: Option<&SessionInfo>) -> Result<()> {
        let (reason, code) = match info {
            Some(i) if !i.pane_dead => return Ok(()),
            Some(i) => (end_reason::EXITED, i.dead_status),
            None => (end_reason::VANISHED, None),
        };
        // A just-hooked session whose tmux start is still in flight.
        if info.is_none()
            && s.running_at.is_none()
            && self.since(&s.started_at) < time::Duration::seconds(30)
        {
            return Ok(());
        }
        self.save_work(s, reason, code)?;
        self.ws.store.end_session(s.id, reason, ACTOR)?;
        if info.is_some() {
            let _ = self.ws.tmux.kill_session(&s.tmux_session);
        }
        let what = match code {
            Some(c) => format!("exited with code {c}"),
            None if reason == end_reason::EXITED => "exited".to_string(),
            None => "has no tmux session".to_string(),
        };
        self.act(
            &format!("dead:{}", s.id),
            kind::SESSION_DEAD,
            Some(s),
            format!("{} on {} {what} without gt done", s.agent(), s.bead),
            json!({ "session": s.id, "reason": reason, "exit_code": code }),
        )?;
        Ok(())
    }

    /// Commits uncommitted changes (tracked and untracked, .gitignore
    /// respected) of the session's worktree as a marked WIP commit on its
    /// branch. Nothing to commit is fine.
    fn save_work(&mut self, s: &Session, reason: &str, code: Option<i32>) -> Result<()> {
        let wt = self.ws.worktree(&s.rig, &s.polecat);
        if !wt.join(".git").exists() || !crate::sling::own_worktree_dirty(self.ws, &wt)? {
            return Ok(());
        }
        let head_branch_ok = self.ws.git.resolve(&wt, "HEAD")?
            == self.ws.git.resolve(
                &self.ws.repo_dir(&s.rig),
                &format!("refs/heads/{}", s.branch),
            )?;
        let msg = format!(
            "WIP: saved by the deacon ({} {reason}{})\n\nBead {}. This commit holds the uncommitted work the agent left behind.",
            s.agent(),
            code.map(|c| format!(", exit code {c}")).unwrap_or_default(),
            s.bead
        );
        if let Some(commit) = self.ws.git.commit_all(&wt, &msg)? {
            self.act(
                &format!("saved:{}", s.id),
                kind::SAVED_WORK,
                Some(s),
                format!("saved uncommitted work of {} on {} as {}", s.agent(), s.branch, &commit[..commit.len().min(10)]),
                json!({ "session": s.id, "commit": commit, "branch": s.branch, "on_branch": head_branch_ok }),
            )?;
        }
        Ok(())
    }

    /// Polecats that hold a bead with no open session: restart with backoff,
    /// or give the bead back after `max_restarts`.
    fn restart_or_release(&mut self) -> Result<()> {
        let cfg = &self.ws.town.config.deacon;
        let max = cfg.max_restarts as usize;
        let backoff = cfg.duration("restart_backoff");
        for p in self.ws.store.list_polecats(None)? {
            self.guard(Subject::agent(&p.rig, &p.name), step::RESTART, |me| {
                me.restart_one(&p, max, backoff)
            });
        }
        Ok(())
    }

    /// One polecat of [`Self::restart_or_release`].
    fn restart_one(
        &mut self,
        p: &crate::polecat::Polecat,
        max: usize,
        backoff: time::Duration,
    ) -> Result<()> {
        let Some(bead) = p.bead.clone() else {
            return Ok(());
        };
        if p.state != PolecatState::Working {
            return Ok(());
        }
        let sessions = self.ws.store.list_sessions(&SessionFilter {
            bead: Some(&bead),
            ..Default::default()
        })?;
        let Some(last) = sessions.last() else {
            return Ok(());
        };
        if last.is_open() || last.end_reason.as_deref() == Some(end_reason::DONE) {
            return Ok(());
        }
        // Failures since the bead last went well (a `done` resets the count).
        let failures = sessions
            .iter()
            .rev()
            .take_while(|s| s.end_reason.as_deref() != Some(end_reason::DONE))
            .filter(|s| {
                matches!(
                    s.end_reason.as_deref(),
                    Some(end_reason::EXITED)
                        | Some(end_reason::VANISHED)
                        | Some(end_reason::FAILED_TO_START)
                )
            })
            .count();
        if failures == 0 {
            return Ok(());
        }
        if failures > max {
            return self.give_up(last, failures);
        }
        let wait = backoff * 2i32.pow((failures as u32).saturating_sub(1).min(10));
        if self.since(last.ended_at.as_deref().unwrap_or(&last.started_at)) < wait {
            return Ok(());
        }
        match crate::sling::resume(self.ws, &bead, None, ACTOR) {
            Ok(slung) => self.act(
                &format!("restart:{}:{}", bead, slung.session_id),
                kind::RESTARTED,
                Some(last),
                format!(
                    "restarted {} on {} (restart {failures} of {max})",
                    last.agent(),
                    bead
                ),
                json!({ "session": slung.session_id, "restart": failures, "max_restarts": max }),
            )?,
            Err(e) => self.act(
                &format!("restart-failed:{}:{}", bead, last.id),
                kind::RESTART_FAILED,
                Some(last),
                format!("could not restart {} on {}: {e}", last.agent(), bead),
                json!({ "error": e.to_string() }),
            )?,
        }
        Ok(())
    }

    /// Past `max_restarts`: the polecat is marked stuck, the bead goes back
    /// to `open` with a note, and `human` is told. Its work stays on the branch.
    fn give_up(&mut self, last: &Session, failures: usize) -> Result<()> {
        let note = format!(
            "The deacon gave up after {failures} failed sessions of {}; the work so far is on branch {}.",
            last.agent(),
            last.branch
        );
        self.ws
            .store
            .release(last.id, "gave_up", Some(&note), ACTOR)?;
        self.ws
            .store
            .set_polecat_state(&last.rig, &last.polecat, PolecatState::Stuck, ACTOR)?;
        crate::escalate::escalate(
            self.ws,
            ACTOR,
            crate::escalate::Severity::High,
            &format!("{} is stuck on {}: {note}", last.agent(), last.bead),
            ACTOR,
        )?;
        self.act(
            &format!("gave-up:{}:{}", last.bead, last.id),
            kind::GAVE_UP,
            Some(last),
            format!(
                "gave up on {} after {failures} failures; {} is open again",
                last.agent(),
                last.bead
            ),
            json!({ "failures": failures, "branch": last.branch }),
        )
    }

    /// tmux sessions on the town socket with no open session record, and
    /// polecat worktrees with no polecat: reported, and cleaned after the
    /// grace period when no work would be lost.
    fn orphans(&mut self) -> Result<()> {
        let grace = self.ws.town.config.deacon.duration("orphan_grace");
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        let polecats = self.ws.store.list_polecats(None)?;
        for t in self.ws.tmux.list_sessions()? {
            if open.iter().any(|s| s.tmux_session == t.name) {
                self.ws
                    .store
                    .forget_mark(&format!("orphan-session:{}", t.name))?;
                continue;
            }
            // A session whose record ended a moment ago is being ended by gt
            // itself (`gt done` kills its tmux session a second later; a
            // failed start or a dead agent is killed right after its record
            // ends): not an orphan.
            if let Some(p) = polecats
                .iter()
                .find(|p| Workspace::session_name(&p.rig, &p.name) == t.name)
            {
                let last = self.ws.store.last_session(&p.rig, &p.name)?;
                if last
                    .and_then(|s| s.ended_at)
                    .is_some_and(|e| self.since(&e) < time::Duration::seconds(ENDING_GRACE_SECS))
                {
                    continue;
                }
            }
            let key = format!("orphan-session:{}", t.name);
            match self.ws.store.mark(&key)? {
                None => self.act(
                    &key,
                    kind::ORPHAN_FOUND,
                    None,
                    format!("tmux session {} has no session record", t.name),
                    json!({ "tmux": t.name }),
                )?,
                Some(m) if self.since(&m.first_at) >= grace => {
                    // A session's files live in git worktrees; ending the
                    // tmux session loses nothing.
                    self.ws.tmux.kill_session(&t.name)?;
                    self.ws.store.forget_mark(&key)?;
                    self.act(
                        &format!("cleaned:{key}"),
                        kind::ORPHAN_CLEANED,
                        None,
                        format!("ended orphaned tmux session {}", t.name),
                        json!({ "tmux": t.name }),
                    )?;
                }
                Some(_) => {}
            }
        }
        for rig in self.ws.store.list_rigs()? {
            self.guard(Subject::rig(&rig.name), step::ORPHANS, |p| {
                p.orphan_worktrees(&rig.name, grace)
            });
        }
        Ok(())
    }

    /// Each rig's repository config is gt's own: a change behind gt's back is
    /// reverted and recorded (see [`crate::repo_guard`]), rig by rig.
    fn guard_repo_configs(&mut self) -> Result<()> {
        for rig in self.ws.store.list_rigs()? {
            self.guard(Subject::rig(&rig.name), step::REPO_CONFIG, |p| {
                if let Some(d) = crate::repo_guard::enforce(p.ws, &rig.name, ACTOR)? {
                    p.report.actions.push(Action {
                        kind: crate::repo_guard::RIG_CONFIG_TAMPERED.to_string(),
                        agent: None,
                        bead: None,
                        summary: format!("reverted the {}", d.summary()),
                    });
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// Polecat worktrees of one rig with no polecat.
    fn orphan_worktrees(&mut self, rig: &str, grace: time::Duration) -> Result<()> {
        let dir = self.ws.rig_dir(rig).join(crate::workspace::POLECATS_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let polecats = self.ws.store.list_polecats(Some(rig))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if polecats.iter().any(|p| p.name == name) {
                continue;
            }
            let key = format!("orphan-worktree:{rig}/{name}");
            let wt = e.path();
            match self.ws.store.mark(&key)? {
                None => self.act(
                    &key,
                    kind::ORPHAN_FOUND,
                    None,
                    format!("worktree {} belongs to no polecat", wt.display()),
                    json!({ "worktree": wt }),
                )?,
                Some(m) if self.since(&m.first_at) >= grace => {
                    let is_wt = wt.join(".git").exists();
                    if is_wt && !crate::sling::own_worktree_dirty(self.ws, &wt)? {
                        // Its branch stays in the rig repository.
                        self.ws
                            .git
                            .worktree_remove(&self.ws.repo_dir(rig), &wt, false)?;
                        self.ws.store.forget_mark(&key)?;
                        self.act(
                            &format!("cleaned:{key}"),
                            kind::ORPHAN_CLEANED,
                            None,
                            format!("removed orphaned clean worktree {}", wt.display()),
                            json!({ "worktree": wt }),
                        )?;
                    }
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Live agents that need something: stalled (nudge, then escalate),
    /// idle at their prompt holding work (nudge), waiting for input (mail
    /// `human` once; never approve anything). Marks are keyed by session, so
    /// "once" means once per session and a nudge's own echo on the screen
    /// does not restart the clock.
    fn live_agents(&mut self) -> Result<()> {
        use crate::problems::{detect_own, Thresholds};
        let cfg = self.ws.town.config.deacon.clone();
        let std = |d: time::Duration| Duration::from_millis(d.whole_milliseconds().max(0) as u64);
        let th = Thresholds {
            stall: std(cfg.duration("stall_after")),
            idle: std(cfg.duration("stall_after")).min(Duration::from_secs(120)),
        };
        let escalate_after = cfg.duration("escalate_after");
        for p in detect_own(self.ws, &th)? {
            let subject = Subject::agent(&p.rig, &p.polecat);
            self.guard(subject, step::LIVE_AGENTS, |me| {
                me.live_agent(&p, &cfg, escalate_after)
            });
        }
        Ok(())
    }

    /// One live agent with a problem of [`Self::live_agents`].
    fn live_agent(
        &mut self,
        p: &crate::problems::Problem,
        cfg: &crate::config::DeaconConfig,
        escalate_after: time::Duration,
    ) -> Result<()> {
        use crate::problems::ProblemKind;
        let Some(bead) = p.bead.clone() else {
            return Ok(());
        };
        let Some(s) = self
            .ws
            .store
            .list_sessions(&SessionFilter {
                open_only: true,
                bead: Some(&bead),
                ..Default::default()
            })?
            .pop()
        else {
            return Ok(());
        };
        let reminder = format!(
            "gt deacon: you hold {bead} and nothing has changed for a while. Continue the work; when finished commit and run `gt done`; if blocked run `gt escalate \"why\"`."
        );
        match p.kind {
            // One reminder clock per session, whether the agent looks
            // stalled or idle at its prompt: nudge, nudge again after
            // `stall_after`, escalate once `escalate_after` has passed
            // since the first nudge without the problem going away.
            ProblemKind::Stalled | ProblemKind::IdleWithWork => {
                let why = if p.kind == ProblemKind::Stalled {
                    "stalled"
                } else {
                    "idle_with_work"
                };
                let nudge_key = format!("nudge:{}", s.id);
                let mark = self.ws.store.mark(&nudge_key)?;
                if let Some(m) = &mark {
                    if self.since(&m.first_at) >= escalate_after {
                        let esc_key = format!("escalate:{}", s.id);
                        if self.ws.store.mark(&esc_key)?.is_none() {
                            crate::escalate::escalate(
                                self.ws,
                                ACTOR,
                                crate::escalate::Severity::High,
                                &format!(
                                    "{} is stalled on {bead} ({}) and did not react to reminders",
                                    p.agent, p.detail
                                ),
                                ACTOR,
                            )?;
                            self.act(
                                &esc_key,
                                kind::ESCALATED,
                                Some(&s),
                                format!("escalated {} on {bead} to human ({why})", p.agent),
                                json!({ "reason": why }),
                            )?;
                        }
                        return Ok(());
                    }
                }
                let due = match &mark {
                    None => true,
                    Some(m) => self.since(&m.last_at) >= cfg.duration("stall_after"),
                };
                // Never type into a dialog or menu (M11): whatever the stored
                // observation said, the screen now decides; tell the human once.
                if due {
                    if let Some((reason, line)) = self.dialog_on_screen(&s) {
                        let detail = format!("{} dialog: {line}", reason.as_str());
                        return self.ask_human_once(&s, &p.agent, &bead, &detail);
                    }
                }
                if due {
                    let r = crate::nudge::nudge(
                        self.ws,
                        &p.agent,
                        &reminder,
                        crate::nudge::Mode::Immediate,
                        ACTOR,
                    );
                    self.act(
                        &nudge_key,
                        kind::NUDGED,
                        Some(&s),
                        format!("nudged {} on {bead} ({why})", p.agent),
                        json!({ "reason": why, "ok": r.is_ok() }),
                    )?;
                }
            }
            ProblemKind::WaitingForInput => {
                self.ask_human_once(&s, &p.agent, &bead, &p.detail)?;
            }
            ProblemKind::Zombie
            | ProblemKind::EndedWithoutDone
            | ProblemKind::AgentFailing
            | ProblemKind::RigFailing
            | ProblemKind::PatrolFailing
            | ProblemKind::ConfigTampered => {}
        }
        Ok(())
    }

    /// Mails `human` once per session that `agent` waits for input (the
    /// deacon never answers a question or dialog for anyone).
    fn ask_human_once(&mut self, s: &Session, agent: &str, bead: &str, detail: &str) -> Result<()> {
        let key = format!("input-mail:{}", s.id);
        if self.ws.store.mark(&key)?.is_none() {
            let screen = self
                .ws
                .tmux
                .capture_pane(&s.tmux_session, 15)
                .unwrap_or_default();
            tell_human(
                self.ws,
                &format!("{agent} waits for input on {bead}"),
                &format!(
                    "{agent} is waiting at a question or permission prompt. The deacon never answers for you.\n\
                     Look: gt peek {agent}   Answer: gt attach {agent}\n\nScreen:\n{screen}"
                ),
            )?;
            self.act(
                &key,
                kind::ASKED_HUMAN,
                Some(s),
                format!("told human that {agent} waits for input"),
                json!({ "detail": detail }),
            )?;
        }
        Ok(())
    }

    /// The dialog or question the screen of `s` shows now, by the one
    /// classifier with its runtime's patterns.
    fn dialog_on_screen(&self, s: &Session) -> Option<(crate::screen::DialogReason, String)> {
        let text = self.ws.tmux.capture_pane(&s.tmux_session, 15).ok()?;
        let runtime = self.ws.town.config.runtime(&s.runtime).ok();
        let patterns = crate::screen::Patterns::for_optional(runtime.as_ref());
        match crate::screen::classify(&text, &patterns) {
            crate::screen::ScreenState::WaitingForInput { reason, line } => Some((reason, line)),
            _ => None,
        }
    }

    /// Queued nudges (`gt nudge --mode queue`, or `wait-idle` that timed out)
    /// are typed in at the agent's next idle moment.
    fn deliver_queued_nudges(&mut self) -> Result<()> {
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        for s in open {
            self.guard(Subject::agent(&s.rig, &s.polecat), step::NUDGES, |p| {
                p.deliver_nudges_to(&s)
            });
        }
        Ok(())
    }

    fn deliver_nudges_to(&mut self, s: &Session) -> Result<()> {
        use crate::store::mail::MailStore;
        let agent = s.agent();
        let pending = self.ws.store.pending_nudges(&agent)?;
        if pending.is_empty() || crate::agent_hooks::observe(self.ws, &agent)?.state != "idle" {
            return Ok(());
        }
        // Hooks may say idle while a dialog is up: never type into it.
        if self.dialog_on_screen(s).is_some() {
            return Ok(());
        }
        for n in pending {
            // Deliver, then mark: at worst a crash in between delivers twice, never loses it.
            crate::nudge::nudge(
                self.ws,
                &agent,
                &n.message,
                crate::nudge::Mode::Immediate,
                &n.from,
            )?;
            self.ws.store.mark_nudge_delivered(n.id)?;
            self.report.actions.push(Action {
                kind: crate::nudge::kind::DELIVERED.to_string(),
                agent: Some(agent.clone()),
                bead: Some(s.bead.clone()),
                summary: format!("delivered queued nudge {} from {} to {agent}", n.id, n.from),
            });
        }
        Ok(())
    }

    /// Agents showing their runtime's rate-limit message: marked (per runtime
    /// and session), and dispatch for that runtime is held for
    /// `deacon.rate_limit_wait` from the first sighting — also after that
    /// session ended, since the limit belongs to the runtime's account. When
    /// the window has passed, the agent (if still there) is told to go on.
    /// Returns the runtimes on hold.
    fn rate_limits(&mut self) -> Result<Vec<String>> {
        let wait = self.ws.town.config.deacon.duration("rate_limit_wait");
        let mut held = Vec::new();
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        for m in self.ws.store.marks(RATE_LIMIT_MARK)? {
            let mut parts = m.key[RATE_LIMIT_MARK.len()..].splitn(2, ':');
            let (Some(runtime), Some(session)) = (parts.next(), parts.next()) else {
                continue;
            };
            if self.since(&m.first_at) < wait {
                held.push(runtime.to_string());
                continue;
            }
            let s = open.iter().find(|s| s.id.to_string() == session);
            if let Some(s) = s.filter(|s| self.dialog_on_screen(s).is_none()) {
                let _ = crate::nudge::nudge(
                    self.ws,
                    &s.agent(),
                    "gt deacon: the rate-limit window has passed; continue your work.",
                    crate::nudge::Mode::Immediate,
                    ACTOR,
                );
            }
            self.ws.store.forget_mark(&m.key)?;
            self.act(
                &format!("{}:over", m.key),
                kind::RATE_LIMIT_OVER,
                s,
                format!("the {runtime} rate-limit window has passed; dispatch resumes"),
                json!({ "runtime": runtime }),
            )?;
        }
        if open.is_empty() {
            return Ok(held);
        }
        // A pane with no output since the last patrol cannot newly show the
        // message: only those with output are read (one tmux call for all).
        let last_patrol = self
            .ws
            .store
            .deacon_state()?
            .last_patrol_at
            .and_then(|t| parse_ts(&t).ok())
            .map(|t| t.unix_timestamp());
        let tmux = self.ws.tmux.list_sessions()?;
        for s in &open {
            let mut hit = false;
            self.guard(Subject::agent(&s.rig, &s.polecat), step::RATE_LIMITS, |p| {
                hit = p.rate_limit_of(s, &tmux, last_patrol)?;
                Ok(())
            });
            if hit {
                held.push(s.runtime.clone());
            }
        }
        Ok(held)
    }

    /// Whether the screen of `s` newly shows its runtime's rate-limit message.
    fn rate_limit_of(
        &mut self,
        s: &Session,
        tmux: &[SessionInfo],
        last_patrol: Option<i64>,
    ) -> Result<bool> {
        let key = format!("{RATE_LIMIT_MARK}{}:{}", s.runtime, s.id);
        if self.ws.store.mark(&key)?.is_some() {
            return Ok(false);
        }
        let Ok(rt) = self.ws.town.config.runtime(&s.runtime) else {
            return Ok(false);
        };
        let Some(pattern) = rt.rate_limit_pattern.as_deref() else {
            return Ok(false);
        };
        let Some(info) = tmux.iter().find(|t| t.name == s.tmux_session) else {
            return Ok(false);
        };
        if info.pane_dead || last_patrol.is_some_and(|p| info.activity > 0 && info.activity < p) {
            return Ok(false);
        }
        let screen = self
            .ws
            .tmux
            .capture_pane(&s.tmux_session, 30)
            .unwrap_or_default();
        if screen.contains(pattern) {
            self.act(
                &key,
                kind::RATE_LIMITED,
                Some(s),
                format!(
                    "{} hit the {} rate limit; holding its dispatch",
                    s.agent(),
                    s.runtime
                ),
                json!({ "runtime": s.runtime }),
            )?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The refinery lands what `gt done` queued, rig by rig (every rig with
    /// merge work); a rig that fails is that rig's fault, the others land.
    /// It records its own `merge.*` events; the patrol only reports it.
    fn refinery(&mut self) -> Result<()> {
        use crate::store::merge::MergeStore;
        for rig in self.ws.store.rigs_with_merge_work()? {
            self.guard(Subject::rig(&rig), step::REFINERY, |p| {
                let r = crate::refinery::run_once(p.ws, Some(&rig), ACTOR)?;
                p.report.actions.extend(refinery_actions(&r));
                Ok(())
            });
        }
        Ok(())
    }

    fn dispatch(&mut self, held: &[String]) -> Result<()> {
        let d = crate::scheduler::dispatch_holding(self.ws, ACTOR, held)?;
        // A bead that cannot start is its rig's fault (it stays queued).
        for (bead, error) in &d.failed {
            let rig = crate::store::BeadStore::get_bead(&self.ws.store, bead)
                .ok()
                .and_then(|b| {
                    b.metadata
                        .get(crate::scheduler::META_RIG)
                        .and_then(|v| v.as_str())
                        .map(|r| r.split('/').next().unwrap_or("").to_string())
                })
                .filter(|r| !r.is_empty());
            let subject = rig
                .as_deref()
                .map(Subject::rig)
                .unwrap_or_else(Subject::town);
            if self
                .report
                .failures
                .iter()
                .any(|f| f.step == step::DISPATCH && f.subject == subject)
            {
                continue;
            }
            self.failed(
                subject,
                step::DISPATCH,
                &Error::Refused(format!("queued {bead} cannot start: {error}")),
            );
        }
        for s in d.started {
            self.act(
                &format!("dispatch:{}:{}", s.bead, s.session_id),
                kind::DISPATCHED,
                None,
                format!("dispatched queued {} to {}", s.bead, s.agent),
                json!({ "bead": s.bead, "agent": s.agent, "session": s.session_id }),
            )?;
        }
        Ok(())
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

/// One patrol, in order (the steps of [`step`]): rig repository configs,
/// dead sessions (save, end), unrecorded sessions adopted, restarts or
/// releases, live agents that need something, queued nudges, rate limits,
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
    p.step(step::REPO_CONFIG, |p| p.guard_repo_configs());
    p.step(step::DEAD_SESSIONS, |p| p.end_dead_sessions());
    p.step(step::ADOPT, |p| {
        let adopted = crate::sling::adopt_unrecorded(p.ws)?;
        p.report.actions.extend(adopted);
        Ok(())
    });
    p.step(step::RESTART, |p| p.restart_or_release());
    p.step(step::LIVE_AGENTS, |p| p.live_agents());
    p.step(step::NUDGES, |p| p.deliver_queued_nudges());
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

fn run_dir(town: &Town) -> PathBuf {
    town.state_dir().join("run")
}

pub fn log_path(town: &Town) -> PathBuf {
    town.state_dir().join("logs").join("deacon.log")
}

fn lock_path(town: &Town) -> PathBuf {
    run_dir(town).join("deacon.lock")
}

fn stop_path(town: &Town) -> PathBuf {
    run_dir(town).join("deacon.stop")
}

/// Whether a deacon process holds the town's lock right now.
pub fn is_running(town: &Town) -> Result<bool> {
    // Read-only is enough for a lock test, so a read-only town can be asked.
    let f = match File::options().read(true).open(lock_path(town)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("cannot open the deacon lock", e)),
    };
    match f.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot check the deacon lock", e)),
    }
}

/// The pid of the deacon that holds the town's lock, read from the lock
/// file it wrote; `None` when no deacon holds the lock. A deacon that has
/// just taken the lock writes its pid a moment later: this waits for it
/// (up to a second).
pub fn running_pid(town: &Town) -> Result<Option<u32>> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if !is_running(town)? {
            return Ok(None);
        }
        let pid = std::fs::read_to_string(lock_path(town))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if pid.is_some() || Instant::now() >= deadline {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Takes the deacon lock. Checkers ([`is_running`]) hold it for an instant,
/// so a busy lock is tried again for a while before it counts as taken by
/// another deacon.
fn take_lock(lock: &File) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::refused("the deacon is already running"))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot take the deacon lock", e))
            }
        }
    }
}

/// The daemon's time between patrols (`deacon.interval`, at least 200 ms).
fn patrol_interval(town: &Town) -> Duration {
    let interval = town.config.deacon.duration("interval");
    Duration::from_millis(interval.whole_milliseconds().clamp(200, 86_400_000) as u64)
}

/// When gt.toml was last written, so the daemon sees changes to it.
fn config_mtime(town: &Town) -> Option<std::time::SystemTime> {
    std::fs::metadata(town.config_path())
        .and_then(|m| m.modified())
        .ok()
}

/// Event kinds that make the daemon patrol at once.
const WAKE_KINDS: &[&str] = &[
    "session.ended",
    "done",
    "merge.queued",
    "bead.updated",
    "sling",
];

/// A refinery running beside the patrol: one thread per rig, each with its
/// own connection to the store. Returns the lines for the log.
type RefineryThread = (String, std::thread::JoinHandle<Vec<String>>);

fn spawn_refinery(
    town: &Town,
    caller: &CallerEnv,
    rig: &str,
    stop: &Arc<AtomicBool>,
) -> Result<RefineryThread> {
    let (town, name, stop) = (town.clone(), rig.to_string(), Arc::clone(stop));
    let caller = caller.clone();
    let handle = std::thread::Builder::new()
        .name(format!("refinery-{rig}"))
        .spawn(move || refinery_beside(town, caller, &name, &stop))
        .map_err(|e| Error::io("cannot start a refinery thread", e))?;
    Ok((rig.to_string(), handle))
}

/// One refinery run of one rig, beside the patrol. A failure is the rig's
/// fault; a run that works clears it. Crash safety is the refinery's own
/// (see `docs/refinery.md`): a deacon killed meanwhile loses nothing.
fn refinery_beside(town: Town, caller: CallerEnv, rig: &str, stop: &AtomicBool) -> Vec<String> {
    let ts = || format_ts(town.clock().now());
    let ws = match Workspace::open(town.clone(), caller) {
        Ok(ws) => ws,
        Err(e) => {
            return vec![format!(
                "{} refinery {rig}: cannot open the town: {e}",
                ts()
            )]
        }
    };
    match crate::refinery::run_once_with(&ws, Some(rig), ACTOR, Some(stop)) {
        Ok(r) => {
            if let Err(e) = clear_fault(&ws, rig, step::REFINERY) {
                tracing::warn!(%e, "cannot clear a refinery fault");
            }
            refinery_actions(&r)
                .into_iter()
                .map(|a| format!("{} {}: {}", ts(), a.kind, a.summary))
                .collect()
        }
        Err(e) if stop.load(Ordering::Relaxed) => {
            vec![format!("{} refinery {rig} stopped: {e}", ts())]
        }
        Err(e) => {
            let error = error_line(&e);
            let mut out = vec![format!("{} refinery {rig} failed: {error}", ts())];
            if let Err(e2) = record_fault(&ws, &Subject::rig(rig), step::REFINERY, &error) {
                out.push(format!("{} cannot record it: {e2}", ts()));
            }
            out
        }
    }
}

/// Starts a refinery thread for every rig with merge work (or a recorded
/// gate group to reap) that has none running.
fn start_refineries(
    ws: &Workspace,
    running: &mut Vec<RefineryThread>,
    stop: &Arc<AtomicBool>,
) -> Result<()> {
    use crate::store::merge::MergeStore;
    let mut rigs = ws.store.rigs_with_merge_work()?;
    rigs.extend(ws.store.gate_runs()?.into_iter().map(|g| g.rig));
    rigs.sort();
    rigs.dedup();
    // A rig's refinery fault is over once it has nothing left to do (its
    // requests were removed, or the rig was).
    for f in ws.store.faults()? {
        if f.step == step::REFINERY
            && !rigs.contains(&f.subject)
            && !running.iter().any(|(r, _)| *r == f.subject)
        {
            clear_fault(ws, &f.subject, step::REFINERY)?;
        }
    }
    for rig in rigs {
        if running.iter().any(|(r, _)| *r == rig) {
            continue;
        }
        running.push(spawn_refinery(&ws.town, &ws.caller, &rig, stop)?);
    }
    Ok(())
}

/// Logs what finished refinery threads did; returns whether one finished.
/// With `wait`, waits up to 10 s for all (a stopped refinery kills its gate
/// at once; one still waiting for another process's refinery lock is left).
fn collect_refineries(
    ws: &Workspace,
    running: &mut Vec<RefineryThread>,
    wait: bool,
    log: &mut dyn std::io::Write,
) -> bool {
    if wait {
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.iter().any(|(_, h)| !h.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut any = false;
    let mut i = 0;
    while i < running.len() {
        if !running[i].1.is_finished() {
            i += 1;
            continue;
        }
        let (rig, handle) = running.swap_remove(i);
        any = true;
        match handle.join() {
            Ok(lines) => {
                for l in lines {
                    let _ = writeln!(log, "{l}");
                }
            }
            Err(_) => {
                let error = "the refinery thread panicked";
                let _ = writeln!(
                    log,
                    "{} refinery {rig}: {error}",
                    format_ts(ws.town.clock().now())
                );
                let _ = record_fault(ws, &Subject::rig(&rig), step::REFINERY, error);
            }
        }
    }
    any
}

/// The daemon: holds the lock, patrols every `deacon.interval` and whenever
/// something happens, until `gt down` asks it to stop. Each rig's refinery
/// runs beside the patrol (a thread per rig), so a long gate never holds up
/// saving and restarting agents.
pub fn run_daemon(town: Town, caller: CallerEnv, log: &mut dyn std::io::Write) -> Result<()> {
    let mut lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&town))
        .map_err(|e| Error::io("cannot open the deacon lock", e))?;
    take_lock(&lock)?;
    // Who holds the lock, for `gt up` and `gt deacon status`.
    {
        use std::io::Write as _;
        let pid = std::process::id();
        lock.set_len(0)
            .and_then(|()| writeln!(lock, "{pid}"))
            .map_err(|e| Error::io("cannot write the deacon lock", e))?;
    }
    let _ = std::fs::remove_file(stop_path(&town));
    let mut interval = patrol_interval(&town);
    let mut config_seen = config_mtime(&town);
    let mut ws = Workspace::open(town, caller)?;
    let pid = std::process::id();
    ws.store.deacon_started(Some(pid))?;
    ws.store.append_event(
        NewEvent::new(kind::STARTED, format!("deacon started (pid {pid})"))
            .payload(json!({ "pid": pid })),
        ACTOR,
    )?;
    let _ = writeln!(
        log,
        "{} deacon started, pid {pid}, interval {interval:?}",
        format_ts(ws.town.clock().now())
    );
    let mut last_event = ws
        .store
        .events(&EventQuery {
            limit: Some(1),
            ..Default::default()
        })?
        .last()
        .map(|e| e.id)
        .unwrap_or(0);
    let mut next_patrol = Instant::now();
    let mut tick: u64 = 0;
    let stop_refineries = Arc::new(AtomicBool::new(false));
    let mut refineries: Vec<RefineryThread> = Vec::new();
    loop {
        if stop_path(&ws.town).exists() {
            break;
        }
        // The town was removed (or its state folder): nothing left to guard.
        if !ws.town.db_path().exists() {
            let _ = writeln!(
                log,
                "{} town is gone; deacon exits",
                format_ts(ws.town.clock().now())
            );
            return Ok(());
        }
        // gt.toml changed (an agent added, a setting set): patrol with it.
        // A file that does not load now keeps the settings in force.
        let mut due = false;
        let seen = config_mtime(&ws.town);
        if seen != config_seen {
            config_seen = seen;
            match Town::open(ws.town.root()).and_then(|t| {
                let i = patrol_interval(&t);
                Workspace::open(t, ws.caller.clone()).map(|w| (w, i))
            }) {
                Ok((w, i)) => {
                    ws = w;
                    interval = i;
                    due = true;
                }
                Err(e) => {
                    let _ = writeln!(
                        log,
                        "{} gt.toml changed but cannot be used ({e}); the settings in force stay",
                        format_ts(ws.town.clock().now())
                    );
                }
            }
        }
        due = due || Instant::now() >= next_patrol;
        // A refinery that finished may have left more to do (and its rig's
        // agents may have new work): patrol now.
        if collect_refineries(&ws, &mut refineries, false, log) {
            due = true;
        }
        // Something happened (not by the deacon itself)? A store or tmux
        // that cannot be read now does not end the daemon: the patrol
        // (due at once) records it as the town's fault and goes on.
        match ws.store.events(&EventQuery {
            after_id: Some(last_event),
            ..Default::default()
        }) {
            Ok(new) => {
                if let Some(e) = new.last() {
                    last_event = e.id;
                }
                if new
                    .iter()
                    .any(|e| e.actor != ACTOR && WAKE_KINDS.contains(&e.kind.as_str()))
                {
                    due = true;
                }
            }
            Err(_) => due = due || tick.is_multiple_of(25),
        }
        // Every second, look for panes that died (an agent exit makes no event).
        if !due && tick.is_multiple_of(5) {
            let open = ws.store.list_sessions(&SessionFilter {
                open_only: true,
                ..Default::default()
            });
            due = match open {
                Ok(open) if open.is_empty() => false,
                Ok(open) => match ws.tmux.list_sessions() {
                    Ok(tmux) => open.iter().any(|s| {
                        !tmux
                            .iter()
                            .any(|t| t.name == s.tmux_session && !t.pane_dead)
                    }),
                    Err(_) => tick.is_multiple_of(25),
                },
                Err(_) => tick.is_multiple_of(25),
            };
        }
        if due {
            if let Err(e) = start_refineries(&ws, &mut refineries, &stop_refineries) {
                let _ = writeln!(
                    log,
                    "{} cannot start the refineries: {e}",
                    format_ts(ws.town.clock().now())
                );
            }
            match patrol_with(&ws, false) {
                Ok(r) => {
                    for a in &r.actions {
                        let _ = writeln!(log, "{} {}: {}", r.started_at, a.kind, a.summary);
                    }
                    for f in &r.failures {
                        let _ = writeln!(
                            log,
                            "{} {} failed for {}: {}",
                            r.started_at, f.step, f.subject.subject, f.error
                        );
                    }
                }
                Err(e) => {
                    let _ = writeln!(
                        log,
                        "{} patrol failed: {e}",
                        format_ts(ws.town.clock().now())
                    );
                }
            }
            next_patrol = Instant::now() + interval;
        }
        tick += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    // Running gates are killed; their requests stay queued for next time.
    stop_refineries.store(true, Ordering::Relaxed);
    collect_refineries(&ws, &mut refineries, true, log);
    ws.store.deacon_started(None)?;
    ws.store
        .append_event(NewEvent::new(kind::STOPPED, "deacon stopped"), ACTOR)?;
    let _ = std::fs::remove_file(stop_path(&ws.town));
    let _ = writeln!(log, "{} deacon stopped", format_ts(ws.town.clock().now()));
    drop(lock);
    Ok(())
}

/// `gt up`: starts the daemon in the background (`gt deacon run`), detached
/// from the terminal. Returns the pid of the deacon that runs, and whether
/// it was already up. Several `gt up` at once start one deacon: they take
/// turns (a lock), and each reports the deacon that holds the town's lock.
pub fn up(town: &Town, gt_exe: &std::path::Path) -> Result<(u32, bool)> {
    use std::os::unix::process::CommandExt;
    let ws_lock = {
        let dir = run_dir(town);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("deacon-up.lock"))
            .map_err(|e| Error::io("cannot open the deacon start lock", e))?;
        f.lock()
            .map_err(|e| Error::io("cannot take the deacon start lock", e))?;
        f
    };
    if let Some(pid) = running_pid(town)? {
        return Ok((pid, true));
    }
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path(town))
        .map_err(|e| Error::io("cannot open the deacon log", e))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::io("cannot open the deacon log", e))?;
    let mut child = std::process::Command::new(gt_exe)
        .arg("--town")
        .arg(town.root())
        .args(["deacon", "run"])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .current_dir(town.root())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("cannot start the deacon", e))?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let exited = child
            .try_wait()
            .map_err(|e| Error::io("cannot wait for the deacon", e))?
            .is_some();
        match running_pid(town)? {
            // Ours, with its start recorded.
            Some(p) if p == pid && town.store()?.deacon_state()?.pid == Some(pid) => {
                drop(ws_lock);
                return Ok((pid, false));
            }
            // Another deacon (started by hand with `gt deacon run`) won.
            Some(p) if p != pid && exited => return Ok((p, true)),
            _ if exited => break,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Error::Environment(format!(
        "the deacon did not come up; see {}",
        log_path(town).display()
    )))
}

/// What `gt down` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Down {
    pub was_running: bool,
    pub sessions_ended: Vec<String>,
    pub work_saved: Vec<String>,
    /// Agents whose work could not be saved (e.g. a broken worktree), with
    /// why; their worktrees are left exactly as they were.
    pub not_saved: Vec<NotSaved>,
}

/// Work `gt down --all` could not commit; nothing of it was touched.
#[derive(Debug, Clone, Serialize)]
pub struct NotSaved {
    pub agent: String,
    pub worktree: PathBuf,
    pub error: String,
}

/// `gt down`: asks the daemon to stop and waits for it. With `all`, also
/// ends every agent session, committing their uncommitted work first.
pub fn down(town: &Town, all: bool, caller: CallerEnv) -> Result<Down> {
    let mut out = Down {
        was_running: is_running(town)?,
        ..Default::default()
    };
    if out.was_running {
        crate::fsutil::write_atomic(&stop_path(town), b"stop\n")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while is_running(town)? {
            if Instant::now() > deadline {
                return Err(Error::Environment(
                    "the deacon did not stop within 20s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if all {
        let ws = Workspace::open(town.clone(), caller)?;
        for s in ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })? {
            let wt = ws.worktree(&s.rig, &s.polecat);
            let _ = ws.tmux.kill_session(&s.tmux_session);
            // A worktree that cannot be saved is reported and left as it is;
            // the other agents are still stopped.
            let saved = (|| -> Result<bool> {
                if wt.join(".git").exists() && crate::sling::own_worktree_dirty(&ws, &wt)? {
                    let msg = format!(
                        "WIP: saved by gt down --all ({})\n\nBead {}.",
                        s.agent(),
                        s.bead
                    );
                    return Ok(ws.git.commit_all(&wt, &msg)?.is_some());
                }
                Ok(false)
            })();
            match saved {
                Ok(true) => out.work_saved.push(s.agent()),
                Ok(false) => {}
                Err(e) => out.not_saved.push(NotSaved {
                    agent: s.agent(),
                    worktree: wt.clone(),
                    error: error_line(&e),
                }),
            }
            ws.store.end_session(s.id, end_reason::STOPPED, "human")?;
            out.sessions_ended.push(s.agent());
        }
    }
    Ok(out)
}

/// `gt deacon status`, and the deacon part of `gt status`: the one place
/// that decides whether the deacon is up.
#[derive(Debug, Clone, Serialize)]
pub struct DeaconStatus {
    /// `up`: a live process holds the deacon lock and its heartbeat is
    /// fresh (within three intervals). `stale`: it holds the lock but its
    /// heartbeat is old. `down`: no process holds the lock although the
    /// last one never said it stopped (it crashed or was killed).
    /// `stopped`: stopped by `gt down`. `never_started`: no deacon ever ran
    /// here (patrols run by hand with `gt deacon patrol --once` do not make
    /// it up).
    pub state: &'static str,
    pub up: bool,
    /// The heartbeat is older than three intervals (or missing) while running.
    pub stale: bool,
    /// The pid of the process holding the lock (none when it is not running).
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub uptime_secs: Option<i64>,
    pub heartbeat_at: Option<String>,
    pub last_patrol_at: Option<String>,
    pub patrols: u64,
    pub actions: u64,
    pub interval: String,
    pub log: PathBuf,
}

pub fn status(town: &Town) -> Result<DeaconStatus> {
    status_in(town, &town.store()?)
}

/// [`status`] read through a store the caller has open already (`gt status`
/// opens one connection, not two).
pub fn status_in(town: &Town, store: &dyn DeaconStore) -> Result<DeaconStatus> {
    let st = store.deacon_state()?;
    let pid = running_pid(town)?;
    let running = is_running(town)?;
    let now = town.clock().now();
    let interval = town.config.deacon.duration("interval");
    let fresh = st
        .heartbeat_at
        .as_deref()
        .and_then(|h| parse_ts(h).ok())
        .is_some_and(|h| now - h <= interval * 3 + time::Duration::seconds(5));
    let state = match (running, fresh) {
        (true, true) => "up",
        (true, false) => "stale",
        // The last deacon recorded its start and never its stop.
        (false, _) if st.pid.is_some() => "down",
        (false, _) if st.started_at.is_some() => "stopped",
        (false, _) => "never_started",
    };
    Ok(DeaconStatus {
        state,
        up: state == "up",
        stale: state == "stale",
        pid: pid.filter(|_| running),
        uptime_secs: st
            .started_at
            .as_deref()
            .filter(|_| running)
            .and_then(|s| parse_ts(s).ok())
            .map(|s| (now - s).whole_seconds()),
        started_at: st.started_at,
        heartbeat_at: st.heartbeat_at,
        last_patrol_at: st.last_patrol_at,
        patrols: st.patrols,
        actions: st.actions,
        interval: town.config.deacon.interval.clone(),
        log: log_path(town),
    })
}
