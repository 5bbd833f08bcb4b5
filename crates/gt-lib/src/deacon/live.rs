//! Patrol steps for live agents: stalls and idles (nudged, never into a
//! dialog), questions for the human, queued nudges, rate limits.

use super::*;

impl Patrol<'_> {
    /// In a town of several hosts: every running agent of this host has its
    /// work checkpointed to its bead's private ref on the upstream (see
    /// [`crate::checkpoint`]), so another host can go on from it.
    pub(super) fn checkpoints(&mut self) -> Result<()> {
        if !crate::hosts::shares_code(self.ws)? {
            return Ok(());
        }
        for s in self.ws.open_sessions_here(None)? {
            if s.running_at.is_none() {
                continue;
            }
            self.guard(
                Subject::agent(&s.rig, &s.polecat),
                step::CHECKPOINTS,
                |me| {
                    if let Some(c) = crate::checkpoint::take(me.ws, &s)? {
                        me.report.actions.push(Action {
                            kind: "checkpoint".to_string(),
                            agent: Some(s.agent()),
                            bead: Some(s.bead.clone()),
                            summary: format!(
                                "checkpointed {} at {}",
                                s.agent(),
                                &c[..c.len().min(12)]
                            ),
                        });
                    }
                    Ok(())
                },
            );
        }
        Ok(())
    }

    /// Live agents that need something: stalled (nudge, then escalate),
    /// idle at their prompt holding work (nudge), waiting for input (mail
    /// `human` once; never approve anything). Marks are keyed by session, so
    /// "once" means once per session and a nudge's own echo on the screen
    /// does not restart the clock.
    pub(super) fn live_agents(&mut self) -> Result<()> {
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
    pub(super) fn live_agent(
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
        // An agent that completes by its commits (aider) cannot run gt
        // commands: its reminder is plain words to its model.
        let by_commits = self
            .ws
            .town
            .config
            .runtime(&s.runtime)
            .is_ok_and(|r| r.completion == crate::runtime::Completion::CommitsAtPrompt);
        let reminder = if by_commits {
            format!("Please continue the task {bead}: make the change it asks for.")
        } else {
            format!(
                "gt deacon: you hold {bead} and nothing has changed for a while. Continue the work; when finished commit and run `gt done`; if blocked run `gt escalate \"why\"`."
            )
        };
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
    pub(super) fn ask_human_once(
        &mut self,
        s: &Session,
        agent: &str,
        bead: &str,
        detail: &str,
    ) -> Result<()> {
        let key = format!("input-mail:{}", s.id);
        if self.ws.store.mark(&key)?.is_none() {
            let screen = self
                .ws
                .host
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
    pub(super) fn dialog_on_screen(
        &self,
        s: &Session,
    ) -> Option<(crate::screen::DialogReason, String)> {
        let text = self.ws.host.tmux.capture_pane(&s.tmux_session, 15).ok()?;
        let runtime = self.ws.town.config.runtime(&s.runtime).ok();
        let patterns = crate::screen::Patterns::for_optional(runtime.as_ref());
        match crate::screen::classify(&text, &patterns) {
            crate::screen::ScreenState::WaitingForInput { reason, line } => Some((reason, line)),
            _ => None,
        }
    }

    /// Queued nudges (`gt nudge --mode queue`, or `wait-idle` that timed out)
    /// are typed in at the agent's next idle moment.
    pub(super) fn deliver_queued_nudges(&mut self) -> Result<()> {
        let open = self.ws.open_sessions_here(None)?;
        for s in open {
            self.guard(Subject::agent(&s.rig, &s.polecat), step::NUDGES, |p| {
                p.deliver_nudges_to(&s)
            });
        }
        Ok(())
    }

    pub(super) fn deliver_nudges_to(&mut self, s: &Session) -> Result<()> {
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
    pub(super) fn rate_limits(&mut self) -> Result<Vec<String>> {
        let wait = self.ws.town.config.deacon.duration("rate_limit_wait");
        let mut held = Vec::new();
        let open = self.ws.open_sessions_here(None)?;
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
        let tmux = self.ws.host.tmux.list_sessions()?;
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
    pub(super) fn rate_limit_of(
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
            .host
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
}
