//! The core loop: `gt sling` hands a bead to a polecat in its own worktree and
//! tmux session; `gt done` ends it with a merge request; `gt resume` restarts
//! a session that ended without `gt done`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::bead::{Bead, NewBead};
use crate::error::{Error, Result};
use crate::polecat::{next_name, parse_address, validate_name, Polecat, PolecatState};
use crate::rig::Rig;
use crate::runtime::{PromptDelivery, Runtime};
use crate::session::{end_reason, Session};
use crate::store::{
    BeadStore, DoneOutcome, DoneRequest, DoneStatus, HookRequest, RigStore, SessionFilter,
    SlingUndo, WorkStore,
};
use crate::workspace::{find_program, Workspace};

mod agents;
mod in_session;
mod resume;
mod start;

pub use agents::*;
pub use in_session::*;
pub use resume::*;
pub use start::*;

/// How long to wait for a TypeWhenReady agent's ready pattern.
const READY_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct SlingRequest {
    /// Bead ids or free text; the last may be a target (see `split_target`).
    pub work: Vec<String>,
    pub rig: Option<String>,
    pub agent: Option<String>,
    pub force: bool,
    /// The directory the command runs in (for "the rig of the current directory").
    pub cwd: PathBuf,
    /// Set by the scheduler's dispatch, which has already checked capacity.
    pub dispatching: bool,
    /// Join (or create) the convoy of this name; two or more items make a
    /// convoy even without one.
    pub convoy: Option<String>,
    /// `--host`: start it on this host of the town (queued for that host's
    /// daemon when it is another one). None: here, else a host with free
    /// places, else the queue.
    pub host: Option<String>,
}

/// One slung item (`gt sling --json` prints one per line).
#[derive(Debug, Clone, Serialize)]
pub struct Slung {
    pub bead: String,
    pub title: String,
    pub rig: String,
    pub polecat: String,
    /// `rig/polecat`.
    pub agent: String,
    pub runtime: String,
    pub branch: String,
    /// The tmux session name.
    pub session: String,
    pub session_id: i64,
    pub worktree: PathBuf,
    pub created_bead: bool,
    /// The town was at capacity (`scheduler.max_polecats`): the bead is
    /// `queued` and the deacon starts it later. Polecat, agent, branch,
    /// session and worktree are empty then.
    pub queued: bool,
    /// The convoy the bead travels in, if any.
    pub convoy: Option<String>,
    /// The agent started but its screen shows a dialog (e.g.
    /// `folder_trust` in a rig not trusted with `gt rig trust`): the reason.
    /// gt never answers it; the deacon mails the human.
    pub waiting_for_input: Option<String>,
    /// The host that runs it, or whose daemon will start it when queued
    /// (`null`: whichever host frees a place first).
    pub host: Option<String>,
}

enum Target {
    Rig(String),
    Polecat(String, String),
}

/// `rig` or `rig/polecat`, as `--rig` takes it.
fn target_address(t: &Target) -> String {
    match t {
        Target::Rig(r) => r.clone(),
        Target::Polecat(r, p) => format!("{r}/{p}"),
    }
}

/// Picks the target: the last WORK argument names an existing rig or polecat,
/// else `--rig`, else the rig of the current directory, else the only rig.
fn split_target(ws: &Workspace, req: &SlingRequest) -> Result<(Vec<String>, Target)> {
    let mut work = req.work.clone();
    if work.len() > 1 {
        let last = work.last().cloned().unwrap_or_default();
        if let Ok((rig, pc)) = parse_address(&last) {
            if ws.store.get_rig(&rig).is_ok() {
                work.pop();
                return Ok((work, Target::Polecat(rig, pc)));
            }
        } else if validate_name("rig", &last).is_ok() && ws.store.get_rig(&last).is_ok() {
            work.pop();
            return Ok((work, Target::Rig(last)));
        }
    }
    if work.is_empty() {
        return Err(Error::invalid(
            "nothing to sling: give a bead id or a task description",
        ));
    }
    if let Some(r) = &req.rig {
        if let Ok((rig, pc)) = parse_address(r) {
            ws.store.get_rig(&rig)?;
            return Ok((work, Target::Polecat(rig, pc)));
        }
        validate_name("rig", r)?;
        ws.store.get_rig(r)?;
        return Ok((work, Target::Rig(r.clone())));
    }
    if let Ok(rel) = req.cwd.strip_prefix(ws.town.root()) {
        if let Some(first) = rel.components().next() {
            let name = first.as_os_str().to_string_lossy();
            if ws.store.get_rig(&name).is_ok() {
                return Ok((work, Target::Rig(name.into_owned())));
            }
        }
    }
    let rigs = ws.store.list_rigs()?;
    match rigs.len() {
        1 => Ok((work, Target::Rig(rigs[0].name.clone()))),
        0 => Err(Error::refused(
            "there are no rigs yet; add one with gt rig add NAME SOURCE",
        )),
        _ => Err(Error::invalid(format!(
            "which rig? give a target ({}) or --rig",
            rigs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The runtime for a sling: `--agent` > rig default > town default > claude.
pub fn select_runtime(ws: &Workspace, rig: &Rig, agent: Option<&str>) -> Result<Runtime> {
    let name = agent
        .map(str::to_string)
        .or_else(|| rig.agent.clone())
        .or_else(|| ws.town.config.default_agent().map(str::to_string))
        .unwrap_or_else(|| "claude".to_string());
    ws.town.config.runtime(&name)
}

/// Resolves WORK to a bead: an existing bead id, else free text that becomes a
/// new task bead with the rig's prefix.
fn resolve_work(ws: &Workspace, rig: &Rig, work: &str, actor: &str) -> Result<(Bead, bool)> {
    if crate::id::validate_id_query(work).is_ok() && work.contains('-') {
        match ws.store.get_bead(work) {
            Ok(b) => return Ok((b, false)),
            Err(e @ Error::Ambiguous { .. }) => return Err(e),
            Err(_) => {}
        }
    }
    let mut nb = NewBead::new(work);
    nb.prefix = Some(rig.prefix.clone());
    nb.metadata
        .insert("rig".into(), serde_json::json!(rig.name));
    Ok((ws.store.create_bead(&nb, actor)?, true))
}

/// Idle polecat of a rig (its clean worktree is reused), or a new one
/// (`true`). Called inside the town's sling lock, so two slings never pick
/// the same polecat or name.
fn pick_polecat(
    ws: &Workspace,
    rig: &str,
    actor: &str,
    exclude: &[String],
) -> Result<(Polecat, bool)> {
    let all = ws.store.list_polecats(Some(rig))?;
    if let Some(p) = all
        .iter()
        .find(|p| p.state == PolecatState::Idle && !exclude.contains(&p.name))
    {
        return Ok((p.clone(), false));
    }
    let taken: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
    Ok((ws.store.add_polecat(rig, &next_name(&taken), actor)?, true))
}

/// The named polecat, created (`true`) when it does not exist yet.
fn polecat_for(ws: &Workspace, rig: &str, name: &str, actor: &str) -> Result<(Polecat, bool)> {
    validate_name("polecat", name)?;
    match ws.store.get_polecat(rig, name) {
        Ok(p) => Ok((p, false)),
        Err(Error::NotFound { .. }) => Ok((ws.store.add_polecat(rig, name, actor)?, true)),
        Err(e) => Err(e),
    }
}

/// The town-wide critical section of a sling: choosing the polecat (or its
/// name), the capacity check and the hook happen while it is held, so
/// parallel slings from several processes never pick the same polecat and
/// never start more agents than `scheduler.max_polecats`.
pub fn sling_lock(ws: &Workspace) -> Result<crate::workspace::RigLock> {
    ws.lock("sling")
}

/// What one sling created, so a failed start can take it back.
#[derive(Debug, Clone, Copy, Default)]
struct Fresh {
    bead: bool,
    polecat: bool,
}

/// Fails before anything is written when the runtime's agent command is
/// not on PATH.
fn check_agent_command(ws: &Workspace, runtime: &Runtime) -> Result<()> {
    if find_program(&runtime.command, ws.caller.path()).is_none() {
        return Err(Error::invalid(format!(
            "agent command '{}' of runtime '{}' was not found on PATH",
            runtime.command, runtime.name
        )));
    }
    Ok(())
}

/// The branch a polecat works on for a bead.
pub fn branch_for(polecat: &str, bead: &str) -> String {
    format!("polecat/{polecat}/{bead}")
}

/// See [`gt_host::git::check_own_worktree`]: gt's git checks it on every
/// command in a town worktree; callers outside a town's git use it directly.
pub use crate::git::check_own_worktree;

/// Whether the polecat worktree `wt` holds uncommitted changes, once
/// [`check_own_worktree`] passed.
pub fn own_worktree_dirty(ws: &Workspace, wt: &Path) -> Result<bool> {
    check_own_worktree(wt)?;
    ws.host.git.is_dirty(wt)
}

/// Slings each WORK item, in order, to its own polecat.
pub fn sling(ws: &Workspace, req: &SlingRequest, actor: &str) -> Result<Vec<Slung>> {
    let (work, target) = split_target(ws, req)?;
    let rig_name = match &target {
        Target::Rig(r) | Target::Polecat(r, _) => r.clone(),
    };
    let rig = ws.store.get_rig(&rig_name)?;
    let runtime = select_runtime(ws, &rig, req.agent.as_deref())?;
    if let Target::Polecat(_, _) = target {
        if work.len() > 1 {
            return Err(Error::invalid(
                "one polecat takes one bead: sling several items to a rig, not to rig/polecat",
            ));
        }
    }
    if let Some(c) = &req.convoy {
        crate::store::merge::validate_convoy_name(c)?;
    }
    if let Some(h) = &req.host {
        crate::hosts::check_requested(ws, h)?;
    }
    // Nothing is written for an agent that cannot start.
    check_agent_command(ws, &runtime)?;
    check_root_sandbox(ws, &runtime)?;
    // The rig's config is gt's own and its branch follows the upstream
    // (rate-limited), before any branch is cut — outside the town's sling
    // lock, so parallel slings never wait on each other's network.
    crate::rig::before_branch_cut(ws, &rig.name, actor);
    let mut out: Vec<Slung> = Vec::new();
    let mut used = Vec::new();
    for item in &work {
        let lock = sling_lock(ws)?;
        let (bead, created) = resolve_work(ws, &rig, item, actor)?;
        let full = crate::scheduler::free_places(ws)? == Some(0);
        if full && req.dispatching {
            // The deacon's dispatch: the bead stays queued for a later round.
            return Err(Error::refused(format!(
                "this host is at capacity (scheduler.max_polecats or its host capacity); {} stays queued",
                bead.id
            )));
        }
        let placement = if req.dispatching {
            crate::hosts::Placement::Here
        } else {
            crate::hosts::place(ws, req.host.as_deref(), full)?
        };
        if placement != crate::hosts::Placement::Here {
            let host = match &placement {
                crate::hosts::Placement::Host(h) => Some(h.as_str()),
                _ => None,
            };
            crate::scheduler::enqueue_for(
                ws,
                &bead.id,
                &target_address(&target),
                req.agent.as_deref(),
                host,
                actor,
            )?;
            out.push(Slung {
                bead: bead.id.clone(),
                title: bead.title.clone(),
                rig: rig.name.clone(),
                polecat: String::new(),
                agent: String::new(),
                runtime: runtime.name.clone(),
                branch: String::new(),
                session: String::new(),
                session_id: 0,
                worktree: PathBuf::new(),
                created_bead: created,
                queued: true,
                waiting_for_input: None,
                convoy: None,
                host: host.map(str::to_string),
            });
            continue;
        }
        // A host that joined after the rig was added clones it first.
        let chosen = crate::rig::ensure_clone(ws, &rig).and_then(|_| match &target {
            Target::Polecat(r, p) => polecat_for(ws, r, p, actor),
            Target::Rig(r) => pick_polecat(ws, r, actor, &used),
        });
        let (polecat, new_polecat) = match chosen {
            Ok(c) => c,
            Err(e) => {
                if created {
                    // Nothing was hooked yet: the new bead goes again.
                    let note = format!("no polecat for it: {e}");
                    ws.store.discard_sling(
                        &SlingUndo {
                            bead: &bead.id,
                            session: None,
                            drop_bead: true,
                            new_polecat: None,
                            note: &note,
                        },
                        actor,
                    )?;
                }
                return Err(e);
            }
        };
        used.push(polecat.name.clone());
        let fresh = Fresh {
            bead: created,
            polecat: new_polecat,
        };
        match sling_one(
            ws,
            &rig,
            &polecat,
            &bead,
            &runtime,
            req.force,
            false,
            actor,
            fresh,
            Some(lock),
        ) {
            Ok(s) => out.push(s),
            // Earlier items are running: say which, so nothing is lost from view.
            Err(e) if !out.is_empty() => {
                let done: Vec<String> = out
                    .iter()
                    .map(|s| format!("{} ({})", s.bead, s.agent))
                    .collect();
                return Err(Error::refused(format!(
                    "{} could not be slung: {e}; already slung: {}",
                    bead.id,
                    done.join(", ")
                )));
            }
            Err(e) => return Err(e),
        }
    }
    let beads: Vec<String> = out.iter().map(|s| s.bead.clone()).collect();
    if let Some(c) = crate::convoy::for_sling(&ws.store, req.convoy.as_deref(), &beads, actor)? {
        for s in &mut out {
            s.convoy = Some(c.name.clone());
        }
    }
    Ok(out)
}

/// Ends an open session of `bead` that is dead in tmux (or, with `force`, any
/// open session) so the bead can be hooked again. Returns its id to supersede.
fn supersedable(ws: &Workspace, bead: &str, force: bool) -> Result<Option<i64>> {
    let open = ws.store.list_sessions(&SessionFilter {
        open_only: true,
        bead: Some(bead),
        ..Default::default()
    })?;
    let Some(s) = open.last() else {
        return Ok(None);
    };
    if !ws.runs_here(s) {
        // Only its host can tell whether it lives, and end it.
        return Err(Error::refused(format!(
            "{bead} is hooked to {} on host {}; take it over from that host",
            s.agent(),
            s.host.as_deref().unwrap_or("?")
        )));
    }
    let alive = matches!(ws.host.tmux.session_info(&s.tmux_session)?, Some(i) if !i.pane_dead);
    if alive && !force {
        return Err(Error::refused(format!(
            "{bead} is already hooked to {} (live session {}); use --force to take it over",
            s.agent(),
            s.tmux_session
        )));
    }
    if alive {
        ws.host.tmux.kill_session(&s.tmux_session)?;
    }
    Ok(Some(s.id))
}

#[allow(clippy::too_many_arguments)]
fn sling_one(
    ws: &Workspace,
    rig: &Rig,
    polecat: &Polecat,
    bead: &Bead,
    runtime: &Runtime,
    force: bool,
    resume: bool,
    actor: &str,
    fresh: Fresh,
    town_lock: Option<crate::workspace::RigLock>,
) -> Result<Slung> {
    let repo = ws.repo_dir(&rig.name);
    let branch = branch_for(&polecat.name, &bead.id);
    let tmux_session = Workspace::session_name(&rig.name, &polecat.name);
    let wt_existed = ws.worktree(&rig.name, &polecat.name).exists();
    // Takes back what this sling created (the bead, the polecat, its
    // worktree and branch) or releases the bead, after a failure.
    let undo = |session: Option<i64>, branch_created: bool, e: &Error| -> Result<()> {
        let note = format!("sling to {} failed: {e}", polecat.address());
        if session.is_some() {
            let _ = ws.host.tmux.kill_session(&tmux_session);
        }
        if fresh.polecat && !wt_existed {
            let wt = ws.worktree(&rig.name, &polecat.name);
            if wt.exists() {
                let _ = ws.host.git.worktree_remove(&repo, &wt, true);
            }
            let _ = ws.host.git.worktree_prune(&repo);
            if branch_created {
                let _ = ws.host.git.delete_branch(&repo, &branch, true);
            }
        } else if branch_created {
            // A reused worktree was switched to the new branch: leave it
            // detached where it is and drop the branch unless it holds
            // commits (`-d`, never forced).
            let wt = ws.worktree(&rig.name, &polecat.name);
            if ws.host.git.detach_head(&wt).is_ok() {
                let _ = ws.host.git.delete_branch(&repo, &branch, false);
            }
        }
        if session.is_none() && !fresh.bead && !fresh.polecat {
            return Ok(());
        }
        ws.store.discard_sling(
            &SlingUndo {
                bead: &bead.id,
                session,
                drop_bead: fresh.bead,
                new_polecat: fresh
                    .polecat
                    .then_some((rig.name.as_str(), polecat.name.as_str())),
                note: &note,
            },
            actor,
        )
    };
    // 1. Claim atomically: bead hooked, polecat working, session recorded
    //    (still inside the town's sling lock when the caller holds it).
    let claimed = (|| -> Result<(Session, bool, String, crate::workspace::RigLock)> {
        let supersede = supersedable(ws, &bead.id, force)?;
        let lock = ws.lock_rig(&rig.name)?;
        // The current tip of the target, and whether the bead's branch
        // exists already (its commits are kept), in one git call.
        let refs = ws.host.git.resolve_many(
            &repo,
            &[
                &format!("refs/heads/{}", rig.branch),
                &format!("refs/heads/{branch}"),
            ],
        )?;
        let base = refs.first().cloned().flatten().ok_or_else(|| {
            Error::Environment(format!("rig {} has no branch {}", rig.name, rig.branch))
        })?;
        let branch_exists = refs.get(1).is_some_and(Option::is_some);
        let session = ws.store.hook(
            &HookRequest {
                bead: &bead.id,
                rig: &rig.name,
                polecat: &polecat.name,
                tmux_session: &tmux_session,
                runtime: &runtime.name,
                branch: &branch,
                base_commit: &base,
                supersede,
                host: ws.town.host_name(),
            },
            actor,
        )?;
        Ok((session, branch_exists, base, lock))
    })();
    drop(town_lock);
    let (session, branch_exists, base, lock) = match claimed {
        Ok(c) => c,
        Err(e) => {
            undo(None, false, &e)?;
            return Err(e);
        }
    };
    // 2..4. Worktree, session, running — taken back on any failure.
    let started = (|| -> Result<(PathBuf, Option<crate::screen::DialogReason>)> {
        // A bead whose last host died goes on from its checkpoint.
        let start = if branch_exists || resume {
            base.clone()
        } else {
            crate::checkpoint::start_point(ws, &rig.name, &bead.id, &base, actor)
        };
        let wt = prepare_worktree(ws, rig, &polecat.name, &branch, &start, branch_exists)?;
        drop(lock);
        // A trusted rig's new worktree is trusted before the agent starts,
        // so no folder-trust dialog stops it (a file gt cannot read is
        // left alone; the dialog is then reported, never answered).
        crate::trust::trust_worktree(ws, &rig.name, &wt, &crate::trust::TrustEnv::of(&ws.caller))?;
        start_agent(ws, &session, bead, runtime, resume, &wt)?;
        ws.store.mark_running(session.id, actor)?;
        let waiting = watch_start(ws, &session, runtime)?;
        if waiting.is_none() {
            deliver_when_ready(ws, &session, bead, runtime)?;
        }
        Ok((wt, waiting))
    })();
    match started {
        Ok((wt, waiting)) => Ok(Slung {
            bead: bead.id.clone(),
            title: bead.title.clone(),
            rig: rig.name.clone(),
            polecat: polecat.name.clone(),
            agent: polecat.address(),
            runtime: runtime.name.clone(),
            branch,
            session: tmux_session,
            session_id: session.id,
            worktree: wt,
            created_bead: fresh.bead,
            queued: false,
            convoy: None,
            waiting_for_input: waiting.map(|r| r.as_str().to_string()),
            host: Some(ws.town.host_name().to_string()),
        }),
        Err(e) => {
            // The pane's last screen, before the session is killed; kept
            // with the session unless the session is taken back with its
            // new bead (its id would then be reused).
            if !fresh.bead {
                crate::screens::keep(ws, &session, &format!("failed to start: {e}"));
            }
            undo(Some(session.id), !branch_exists, &e)?;
            Err(e)
        }
    }
}
