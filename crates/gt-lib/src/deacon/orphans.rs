//! Patrol steps for what nobody owns any more: sessions and worktrees
//! without a live record, and rig repository configs that changed.

use super::*;

impl Patrol<'_> {
    /// tmux sessions on the town socket with no open session record, and
    /// polecat worktrees with no polecat: reported, and cleaned after the
    /// grace period when no work would be lost.
    pub(super) fn orphans(&mut self) -> Result<()> {
        let grace = self.ws.town.config.deacon.duration("orphan_grace");
        let open = self.ws.store.list_sessions(&SessionFilter {
            open_only: true,
            ..Default::default()
        })?;
        let polecats = self.ws.store.list_polecats(None)?;
        for t in self.ws.host.tmux.list_sessions()? {
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
                    self.ws.host.tmux.kill_session(&t.name)?;
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
    pub(super) fn guard_repo_configs(&mut self) -> Result<()> {
        for rig in self.ws.store.list_rigs()? {
            self.guard(Subject::rig(&rig.name), step::REPO_CONFIG, |p| {
                // A host that joined after the rig was added clones it first.
                if crate::rig::ensure_clone(p.ws, &rig)? {
                    p.report.actions.push(Action {
                        kind: "rig.cloned".to_string(),
                        agent: None,
                        bead: None,
                        summary: format!(
                            "cloned rig {} on this host from {}",
                            rig.name, rig.source
                        ),
                    });
                }
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
    pub(super) fn orphan_worktrees(&mut self, rig: &str, grace: time::Duration) -> Result<()> {
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
                            .host
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
}
