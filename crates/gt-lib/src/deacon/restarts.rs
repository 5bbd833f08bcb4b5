//! Patrol steps for agents whose session ended: end the record, save the
//! uncommitted work, restart with backoff, or give the bead back.

use super::*;

impl Patrol<'_> {
    /// Open sessions whose agent is gone: save the worktree, end the record.
    pub(super) fn end_dead_sessions(&mut self) -> Result<()> {
        let open = self.ws.open_sessions_here(None)?;
        self.report.sessions_checked = open.len();
        if open.is_empty() {
            return Ok(());
        }
        let tmux = self.ws.host.tmux.list_sessions()?;
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
    pub(super) fn end_dead_session(
        &mut self,
        s: &Session,
        info: Option<&SessionInfo>,
    ) -> Result<()> {
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
        crate::costs::record_session_end_quietly(self.ws, s, ACTOR);
        self.ws.store.end_session(s.id, reason, ACTOR)?;
        let what = match code {
            Some(c) => format!("exited with code {c}"),
            None if reason == end_reason::EXITED => "exited".to_string(),
            None => "has no tmux session".to_string(),
        };
        if info.is_some() {
            // What the agent showed last, kept before its pane goes.
            crate::screens::keep(self.ws, s, &what);
            let _ = self.ws.host.tmux.kill_session(&s.tmux_session);
        }
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
    pub(super) fn save_work(&mut self, s: &Session, reason: &str, code: Option<i32>) -> Result<()> {
        let wt = self.ws.worktree(&s.rig, &s.polecat);
        if !wt.join(".git").exists() || !crate::sling::own_worktree_dirty(self.ws, &wt)? {
            return Ok(());
        }
        let head_branch_ok = self.ws.host.git.resolve(&wt, "HEAD")?
            == self.ws.host.git.resolve(
                &self.ws.repo_dir(&s.rig),
                &format!("refs/heads/{}", s.branch),
            )?;
        let msg = format!(
            "WIP: saved by the deacon ({} {reason}{})\n\nBead {}. This commit holds the uncommitted work the agent left behind.",
            s.agent(),
            code.map(|c| format!(", exit code {c}")).unwrap_or_default(),
            s.bead
        );
        if let Some(commit) = self.ws.host.git.commit_all(&wt, &msg)? {
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
    pub(super) fn restart_or_release(&mut self) -> Result<()> {
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
    pub(super) fn restart_one(
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
    pub(super) fn give_up(&mut self, last: &Session, failures: usize) -> Result<()> {
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
}
