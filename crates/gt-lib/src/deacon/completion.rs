//! Completion for runtimes whose CLI cannot run `gt done` (Aider: it has no
//! shell tool), `Completion::CommitsAtPrompt`.
//!
//! Such an agent's work is finished when all of this holds, read afresh at
//! every patrol:
//! - its session is open and its pane alive;
//! - its screen is at its prompt by the one classifier
//!   ([`crate::problems::classify_screen_for`]) with no dialog, on two
//!   consecutive observations: the one the previous patrol (or `gt agents`)
//!   stored, and the one taken now, with the same screen — nothing moved;
//! - its branch has at least one commit beyond the session's base;
//! - its worktree has no uncommitted changes (the CLI's own files are
//!   excluded, see [`exclude_own_files`]).
//!
//! Then the deacon runs the done service ([`crate::sling::done_for`], the
//! same checks and effects as `gt done`) on the agent's behalf and records
//! a `deacon.completed` event saying so and why. Idle at the prompt with no
//! commit beyond the base (the instruction not yet acted on, or a human
//! talking to it) is left alone: nothing is finished for the agent then.

use super::*;
use crate::problems::{classify_screen_for, screen_hash, Screen, SCREEN_LINES};
use crate::runtime::{Completion, Runtime};

/// Why a session completing by its commits at the prompt is not finished
/// yet (or that it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// No live pane.
    NotAlive,
    /// The screen is not at the prompt now (working, a dialog, unknown).
    NotAtPrompt,
    /// At the prompt now, but the previous observation was not the same
    /// screen at the prompt: one more patrol.
    FirstIdle,
    /// At the prompt with no commit beyond the session's base: left alone.
    NoCommits,
    /// Uncommitted changes in the worktree: left alone.
    Dirty,
    /// Finished: this many commits beyond the base.
    Finished { commits: usize },
}

/// The git exclude lines for `runtime`'s own files (none for a custom agent).
fn own_file_patterns(runtime: &Runtime) -> &'static [&'static str] {
    if runtime.builtin {
        gt_agents::presets::own_files(&runtime.name)
    } else {
        &[]
    }
}

/// Keeps the files `runtime`'s CLI writes into a worktree for itself
/// (aider's `.aider*`) out of git: one line each in the rig repository's
/// `info/exclude`, which every worktree of the rig shares. Idempotent; the
/// repository's tracked files (`.gitignore`) are never touched.
pub fn exclude_own_files(ws: &Workspace, runtime: &Runtime, rig: &str) -> Result<()> {
    let patterns = own_file_patterns(runtime);
    if patterns.is_empty() {
        return Ok(());
    }
    let exclude = ws.repo_dir(rig).join("info").join("exclude");
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    let missing: Vec<&str> = patterns
        .iter()
        .copied()
        .filter(|p| !current.lines().any(|l| l.trim() == *p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if let Some(dir) = exclude.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("# gt: files {} writes for itself\n", runtime.name));
    for p in missing {
        text.push_str(p);
        text.push('\n');
    }
    crate::fsutil::write_atomic(&exclude, text.as_bytes())
}

/// Whether session `s` of `runtime` is finished by its commits at the
/// prompt (see the module documentation). Reads tmux, the stored screen
/// observation and git; writes only the exclude lines.
pub fn readiness(ws: &Workspace, s: &Session, runtime: &Runtime) -> Result<Readiness> {
    let alive = matches!(ws.host.tmux.session_info(&s.tmux_session)?, Some(i) if !i.pane_dead);
    if !alive {
        return Ok(Readiness::NotAlive);
    }
    let text = ws.host.tmux.capture_pane(&s.tmux_session, SCREEN_LINES)?;
    if classify_screen_for(&text, Some(runtime)) != Screen::AtPrompt {
        return Ok(Readiness::NotAtPrompt);
    }
    let hash = screen_hash(&text);
    let agent = s.agent();
    let before = ws
        .store
        .screen_observations()?
        .into_iter()
        .find(|o| o.agent == agent && o.session_id == Some(s.id));
    let idle_before = before.is_some_and(|o| {
        o.screen_hash == hash
            && o.screen_kind.as_deref().and_then(Screen::decode) == Some(Screen::AtPrompt)
    });
    if !idle_before {
        return Ok(Readiness::FirstIdle);
    }
    let repo = ws.repo_dir(&s.rig);
    let Some(tip) = ws
        .host
        .git
        .resolve(&repo, &format!("refs/heads/{}", s.branch))?
    else {
        return Ok(Readiness::NoCommits);
    };
    let commits = ws
        .host
        .git
        .count_commits_between(&repo, &s.base_commit, &tip)?;
    if commits == 0 {
        return Ok(Readiness::NoCommits);
    }
    exclude_own_files(ws, runtime, &s.rig)?;
    let wt = ws.worktree(&s.rig, &s.polecat);
    if crate::sling::own_worktree_dirty(ws, &wt)? {
        return Ok(Readiness::Dirty);
    }
    Ok(Readiness::Finished { commits })
}

impl Patrol<'_> {
    /// Open sessions whose runtime completes by its commits at the prompt
    /// and that are finished: `gt done` on their behalf.
    pub(super) fn completions(&mut self) -> Result<()> {
        let open = self.ws.open_sessions_here(None)?;
        for s in open {
            let Ok(runtime) = self.ws.town.config.runtime(&s.runtime) else {
                continue;
            };
            if runtime.completion != Completion::CommitsAtPrompt {
                continue;
            }
            self.guard(Subject::agent(&s.rig, &s.polecat), step::COMPLETION, |p| {
                p.complete_at_prompt(&s, &runtime)
            });
        }
        Ok(())
    }

    fn complete_at_prompt(&mut self, s: &Session, runtime: &Runtime) -> Result<()> {
        let Readiness::Finished { commits } = readiness(self.ws, s, runtime)? else {
            return Ok(());
        };
        let polecat = self.ws.store.get_polecat(&s.rig, &s.polecat)?;
        let r =
            crate::sling::done_for(self.ws, polecat, &crate::sling::DoneArgs::default(), ACTOR)?;
        let reason = format!(
            "{} cannot run gt done; it is back at its prompt with {commits} new commit(s) and a clean worktree",
            runtime.name
        );
        self.act(
            &format!("completed:{}", s.id),
            kind::COMPLETED,
            Some(s),
            format!("gt done for {} on {}: {reason}", s.agent(), s.bead),
            json!({
                "reason": "commits_at_prompt",
                "runtime": runtime.name,
                "commits": commits,
                "head": r.head_commit,
            }),
        )
    }
}
