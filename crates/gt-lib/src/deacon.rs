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
use std::path::PathBuf;
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
use crate::town::Town;
use crate::workspace::Workspace;

/// Prefix of rate-limit marks: `ratelimit:<runtime>:<session id>`.
const RATE_LIMIT_MARK: &str = "ratelimit:";

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
}

struct Patrol<'a> {
    ws: &'a Workspace,
    now: OffsetDateTime,
    report: PatrolReport,
}

impl Patrol<'_> {
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
            let info = tmux.iter().find(|t| t.name == s.tmux_session);
            let (reason, code) = match info {
                Some(i) if !i.pane_dead => continue,
                Some(i) => (end_reason::EXITED, i.dead_status),
                None => (end_reason::VANISHED, None),
            };
            // A just-hooked session whose tmux start is still in flight.
            if info.is_none()
                && s.running_at.is_none()
                && self.since(&s.started_at) < time::Duration::seconds(30)
            {
                continue;
            }
            self.save_work(&s, reason, code)?;
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
                Some(&s),
                format!("{} on {} {what} without gt done", s.agent(), s.bead),
                json!({ "session": s.id, "reason": reason, "exit_code": code }),
            )?;
        }
        Ok(())
    }

    /// Commits uncommitted changes (tracked and untracked, .gitignore
    /// respected) of the session's worktree as a marked WIP commit on its
    /// branch. Nothing to commit is fine.
    fn save_work(&mut self, s: &Session, reason: &str, code: Option<i32>) -> Result<()> {
        let wt = self.ws.worktree(&s.rig, &s.polecat);
        if !wt.join(".git").exists() || !self.ws.git.is_dirty(&wt)? {
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
            let Some(bead) = p.bead.clone() else { continue };
            if p.state != PolecatState::Working {
                continue;
            }
            let sessions = self.ws.store.list_sessions(&SessionFilter {
                bead: Some(&bead),
                ..Default::default()
            })?;
            let Some(last) = sessions.last() else {
                continue;
            };
            if last.is_open() || last.end_reason.as_deref() == Some(end_reason::DONE) {
                continue;
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
                continue;
            }
            if failures > max {
                self.give_up(last, failures)?;
                continue;
            }
            let wait = backoff * 2i32.pow((failures as u32).saturating_sub(1).min(10));
            if self.since(last.ended_at.as_deref().unwrap_or(&last.started_at)) < wait {
                continue;
            }
            match crate::sling::resume(self.ws, &bead, None, ACTOR) {
                Ok(slung) => self.act(
                    &format!("restart:{}:{}", bead, slung.session_id),
                    kind::RESTARTED,
                    Some(last),
                    format!("restarted {} on {} (restart {failures} of {max})", last.agent(), bead),
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
        for t in self.ws.tmux.list_sessions()? {
            if open.iter().any(|s| s.tmux_session == t.name) {
                self.ws
                    .store
                    .forget_mark(&format!("orphan-session:{}", t.name))?;
                continue;
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
            let dir = self
                .ws
                .rig_dir(&rig.name)
                .join(crate::workspace::POLECATS_DIR);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let polecats = self.ws.store.list_polecats(Some(&rig.name))?;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if polecats.iter().any(|p| p.name == name) {
                    continue;
                }
                let key = format!("orphan-worktree:{}/{}", rig.name, name);
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
                        if is_wt && !self.ws.git.is_dirty(&wt)? {
                            // Its branch stays in the rig repository.
                            self.ws.git.worktree_remove(
                                &self.ws.repo_dir(&rig.name),
                                &wt,
                                false,
                            )?;
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
        }
        Ok(())
    }

    /// Live agents that need something: stalled (nudge, then escalate),
    /// idle at their prompt holding work (nudge), waiting for input (mail
    /// `human` once; never approve anything). Marks are keyed by session, so
    /// "once" means once per session and a nudge's own echo on the screen
    /// does not restart the clock.
    fn live_agents(&mut self) -> Result<()> {
        use crate::problems::{detect, ProblemKind, Thresholds};
        let cfg = self.ws.town.config.deacon.clone();
        let std = |d: time::Duration| Duration::from_millis(d.whole_milliseconds().max(0) as u64);
        let th = Thresholds {
            stall: std(cfg.duration("stall_after")),
            idle: std(cfg.duration("stall_after")).min(Duration::from_secs(120)),
            ..Thresholds::default()
        };
        let escalate_after = cfg.duration("escalate_after");
        for p in detect(self.ws, &th)? {
            let Some(bead) = p.bead.clone() else { continue };
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
                continue;
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
                                    &format!("{} is stalled on {bead} ({}) and did not react to reminders", p.agent, p.detail),
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
                            continue;
                        }
                    }
                    let due = match &mark {
                        None => true,
                        Some(m) => self.since(&m.last_at) >= cfg.duration("stall_after"),
                    };
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
                    let key = format!("input-mail:{}", s.id);
                    if self.ws.store.mark(&key)?.is_none() {
                        let screen = self
                            .ws
                            .tmux
                            .capture_pane(&s.tmux_session, 15)
                            .unwrap_or_default();
                        tell_human(
                            self.ws,
                            &format!("{} waits for input on {bead}", p.agent),
                            &format!(
                                "{} is waiting at a question or permission prompt. The deacon never answers for you.\n\
                                 Look: gt peek {}   Answer: gt attach {}\n\nScreen:\n{screen}",
                                p.agent, p.agent, p.agent
                            ),
                        )?;
                        self.act(
                            &key,
                            kind::ASKED_HUMAN,
                            Some(&s),
                            format!("told human that {} waits for input", p.agent),
                            json!({ "detail": p.detail }),
                        )?;
                    }
                }
                ProblemKind::Zombie
                | ProblemKind::EndedWithoutDone
                | ProblemKind::ConfigTampered => {}
            }
        }
        Ok(())
    }

    /// Queued nudges (`gt nudge --mode queue`, or `wait-idle` that timed out)
    /// are typed in at the agent's next idle moment.
    fn deliver_queued_nudges(&mut self) -> Result<()> {
        use crate::store::mail::MailStore;
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        for s in open {
            let agent = s.agent();
            let pending = self.ws.store.pending_nudges(&agent)?;
            if pending.is_empty() || crate::hooks::observe(self.ws, &agent)?.state != "idle" {
                continue;
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
            if let Some(s) = s {
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
            let key = format!("{RATE_LIMIT_MARK}{}:{}", s.runtime, s.id);
            if self.ws.store.mark(&key)?.is_some() {
                continue;
            }
            let Ok(rt) = self.ws.town.config.runtime(&s.runtime) else {
                continue;
            };
            let Some(pattern) = rt.rate_limit_pattern.as_deref() else {
                continue;
            };
            let Some(info) = tmux.iter().find(|t| t.name == s.tmux_session) else {
                continue;
            };
            if info.pane_dead || last_patrol.is_some_and(|p| info.activity > 0 && info.activity < p)
            {
                continue;
            }
            let screen = self
                .ws
                .tmux
                .capture_pane(&s.tmux_session, 30)
                .unwrap_or_default();
            if screen.contains(pattern) {
                held.push(s.runtime.clone());
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
            }
        }
        Ok(held)
    }

    /// The refinery lands what `gt done` queued (every rig with merge work).
    /// It records its own `merge.*` events; the patrol only reports it.
    fn refinery(&mut self) -> Result<()> {
        let r = crate::refinery::run_once(self.ws, None, ACTOR)?;
        for rig in &r.rigs {
            let n = rig.merged.len()
                + rig.failed.len()
                + rig.conflicts.len()
                + rig.requeued.len()
                + rig.recovered.len();
            if n == 0 {
                continue;
            }
            self.report.actions.push(Action {
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
        Ok(())
    }

    fn dispatch(&mut self, held: &[String]) -> Result<()> {
        let d = crate::scheduler::dispatch_holding(self.ws, ACTOR, held)?;
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

/// One patrol, in order: dead sessions (save, end), restarts or releases,
/// live agents that need something, queued nudges, rate limits, orphans, the
/// refinery, dispatch of queued beads.
pub fn patrol(ws: &Workspace) -> Result<PatrolReport> {
    let started = Instant::now();
    let now = ws.town.clock().now();
    let mut p = Patrol {
        ws,
        now,
        report: PatrolReport {
            started_at: format_ts(now),
            ..Default::default()
        },
    };
    p.report
        .actions
        .extend(crate::repo_guard::patrol_actions(ws, ACTOR)?);
    p.end_dead_sessions()?;
    p.restart_or_release()?;
    p.live_agents()?;
    p.deliver_queued_nudges()?;
    let held = p.rate_limits()?;
    p.orphans()?;
    p.refinery()?;
    p.dispatch(&held)?;
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
    let f = match File::options().read(true).write(true).open(lock_path(town)) {
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

/// Event kinds that make the daemon patrol at once.
const WAKE_KINDS: &[&str] = &[
    "session.ended",
    "done",
    "merge.queued",
    "bead.updated",
    "sling",
];

/// The daemon: holds the lock, patrols every `deacon.interval` and whenever
/// something happens, until `gt down` asks it to stop.
pub fn run_daemon(town: Town, log: &mut dyn std::io::Write) -> Result<()> {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&town))
        .map_err(|e| Error::io("cannot open the deacon lock", e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::refused("the deacon is already running"))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io("cannot take the deacon lock", e))
        }
    }
    let _ = std::fs::remove_file(stop_path(&town));
    let interval = town.config.deacon.duration("interval");
    let interval =
        Duration::from_millis(interval.whole_milliseconds().clamp(200, 86_400_000) as u64);
    let ws = Workspace::open(town)?;
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
        let mut due = Instant::now() >= next_patrol;
        // Something happened (not by the deacon itself)?
        let new = ws.store.events(&EventQuery {
            after_id: Some(last_event),
            ..Default::default()
        })?;
        if let Some(e) = new.last() {
            last_event = e.id;
        }
        if new
            .iter()
            .any(|e| e.actor != ACTOR && WAKE_KINDS.contains(&e.kind.as_str()))
        {
            due = true;
        }
        // Every second, look for panes that died (an agent exit makes no event).
        if !due && tick.is_multiple_of(5) {
            let open = ws.store.list_sessions(&SessionFilter {
                open_only: true,
                ..Default::default()
            })?;
            if !open.is_empty() {
                let tmux = ws.tmux.list_sessions()?;
                due = open.iter().any(|s| {
                    !tmux
                        .iter()
                        .any(|t| t.name == s.tmux_session && !t.pane_dead)
                });
            }
        }
        if due {
            match patrol(&ws) {
                Ok(r) => {
                    for a in &r.actions {
                        let _ = writeln!(log, "{} {}: {}", r.started_at, a.kind, a.summary);
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
    ws.store.deacon_started(None)?;
    ws.store
        .append_event(NewEvent::new(kind::STOPPED, "deacon stopped"), ACTOR)?;
    let _ = std::fs::remove_file(stop_path(&ws.town));
    let _ = writeln!(log, "{} deacon stopped", format_ts(ws.town.clock().now()));
    drop(lock);
    Ok(())
}

/// `gt up`: starts the daemon in the background (`gt deacon run`), detached
/// from the terminal. Returns the pid, and whether it was already up.
pub fn up(town: &Town, gt_exe: &std::path::Path) -> Result<(u32, bool)> {
    use std::os::unix::process::CommandExt;
    if is_running(town)? {
        let pid = town.store()?.deacon_state()?.pid.unwrap_or(0);
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
    let child = std::process::Command::new(gt_exe)
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
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if is_running(town)? && town.store()?.deacon_state()?.pid == Some(pid) {
            return Ok((pid, false));
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
}

/// `gt down`: asks the daemon to stop and waits for it. With `all`, also
/// ends every agent session, committing their uncommitted work first.
pub fn down(town: &Town, all: bool) -> Result<Down> {
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
        let ws = Workspace::open(town.clone())?;
        for s in ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })? {
            let wt = ws.worktree(&s.rig, &s.polecat);
            let _ = ws.tmux.kill_session(&s.tmux_session);
            if wt.join(".git").exists() && ws.git.is_dirty(&wt)? {
                let msg = format!(
                    "WIP: saved by gt down --all ({})\n\nBead {}.",
                    s.agent(),
                    s.bead
                );
                if ws.git.commit_all(&wt, &msg)?.is_some() {
                    out.work_saved.push(s.agent());
                }
            }
            ws.store.end_session(s.id, "stopped", "human")?;
            out.sessions_ended.push(s.agent());
        }
    }
    Ok(out)
}

/// `gt deacon status`.
#[derive(Debug, Clone, Serialize)]
pub struct DeaconStatus {
    pub up: bool,
    /// The heartbeat is older than three intervals (or missing) while "up".
    pub stale: bool,
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub uptime_secs: Option<i64>,
    pub last_patrol_at: Option<String>,
    pub patrols: u64,
    pub actions: u64,
    pub interval: String,
    pub log: PathBuf,
}

pub fn status(town: &Town) -> Result<DeaconStatus> {
    let st = town.store()?.deacon_state()?;
    let running = is_running(town)?;
    let now = town.clock().now();
    let interval = town.config.deacon.duration("interval");
    let fresh = st
        .heartbeat_at
        .as_deref()
        .and_then(|h| parse_ts(h).ok())
        .is_some_and(|h| now - h <= interval * 3 + time::Duration::seconds(5));
    Ok(DeaconStatus {
        up: running && fresh,
        stale: running && !fresh,
        pid: st.pid.filter(|_| running),
        uptime_secs: st
            .started_at
            .as_deref()
            .filter(|_| running)
            .and_then(|s| parse_ts(s).ok())
            .map(|s| (now - s).whole_seconds()),
        started_at: st.started_at,
        last_patrol_at: st.last_patrol_at,
        patrols: st.patrols,
        actions: st.actions,
        interval: town.config.deacon.interval.clone(),
        log: log_path(town),
    })
}
