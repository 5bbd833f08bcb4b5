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
    ws.git.is_dirty(wt)
}

/// Puts the polecat's worktree on `branch`: a fresh branch cut from `base`, or
/// the existing branch when it already exists (its commits are kept). An idle
/// worktree with uncommitted changes is first saved in a WIP commit on its
/// current branch, so nothing is lost.
fn prepare_worktree(
    ws: &Workspace,
    rig: &Rig,
    polecat: &str,
    branch: &str,
    base: &str,
    exists: bool,
) -> Result<PathBuf> {
    let repo = ws.repo_dir(&rig.name);
    let wt = ws.worktree(&rig.name, polecat);
    if wt.join(".git").exists() {
        if own_worktree_dirty(ws, &wt)? {
            ws.git.commit_all(
                &wt,
                &format!("WIP: saved by gt before polecat {polecat} took new work"),
            )?;
        }
        if exists {
            ws.git
                .switch_branch(&wt, branch, &format!("refs/heads/{branch}"))?;
        } else {
            ws.git.switch_branch(&wt, branch, base)?;
        }
    } else {
        if wt.exists() {
            // A leftover directory that is not a worktree: never delete it.
            return Err(Error::refused(format!(
                "{} exists but is not a worktree of rig {}; move it away",
                wt.display(),
                rig.name
            )));
        }
        let add = || {
            if exists {
                ws.git.worktree_add_existing(&repo, &wt, branch)
            } else {
                ws.git.worktree_add(&repo, &wt, branch, base)
            }
        };
        // A worktree removed by hand is still registered: prune, then retry.
        if add().is_err() {
            ws.git.worktree_prune(&repo)?;
            add()?;
        }
    }
    Ok(wt)
}

/// Proxy variables every runtime takes from the caller.
pub const PROXY_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// The caller's variables a session of `runtime` gets: the preset's own
/// (`ANTHROPIC_*` for claude…), the proxies, and the town's `runtime.env`.
/// Never `PATH` or `GT_*` (gt sets those). The values are passed with the
/// session only: never stored, logged or put in an event.
pub fn passthrough_env(ws: &Workspace, runtime: &Runtime) -> Vec<(String, String)> {
    let town = ws.town.config.runtime.env_patterns();
    let mut patterns: Vec<&str> = runtime.env.iter().map(String::as_str).collect();
    patterns.extend(PROXY_ENV);
    patterns.extend(town.iter().map(String::as_str));
    ws.caller
        .matching(&patterns)
        .filter(|(k, _)| *k != "PATH" && !k.starts_with("GT_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The environment contract of every polecat session (docs/agents.md): the
/// caller's variables of [`passthrough_env`], then gt's own.
pub fn session_env(
    ws: &Workspace,
    runtime: &Runtime,
    rig: &str,
    polecat: &str,
    bead: &str,
    branch: &str,
    session: i64,
) -> Vec<(String, String)> {
    let agent = format!("{rig}/{polecat}");
    let gt_dir = ws
        .gt_exe
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut path = gt_dir.into_os_string();
    if let Some(p) = ws.caller.path() {
        path.push(":");
        path.push(p);
    }
    let mut env = passthrough_env(ws, runtime);
    env.extend([
        (
            "GT_TOWN".into(),
            ws.town.root().to_string_lossy().into_owned(),
        ),
        ("GT_RIG".into(), rig.into()),
        ("GT_ROLE".into(), "polecat".into()),
        ("GT_POLECAT".into(), polecat.into()),
        ("GT_AGENT".into(), agent.clone()),
        ("GT_BEAD".into(), bead.into()),
        ("GT_BRANCH".into(), branch.into()),
        ("GT_ACTOR".into(), agent),
        ("GT_SESSION".into(), session.to_string()),
        ("GT_BIN".into(), ws.gt_exe.to_string_lossy().into_owned()),
        ("PATH".into(), path.to_string_lossy().into_owned()),
    ]);
    env
}

/// The first instruction given to an agent that takes one. It names the
/// running gt by its absolute path `gt`: some CLIs run commands in a login
/// shell that resets PATH.
pub fn first_instruction(bead: &Bead, agent: &str, gt: &Path) -> String {
    let gt = shell_words::quote(&gt.to_string_lossy()).into_owned();
    format!(
        "You are {agent}, a Gas Town polecat. Your bead is {}: {}. Run `{gt} prime` for your briefing, \
         do the work, commit it, and run `{gt} done` when finished.",
        bead.id, bead.title
    )
}

/// Whether this process runs as root (the agents run as the same user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Claude Code refuses `--dangerously-skip-permissions` as root unless
/// `IS_SANDBOX` is set: say so before anything is written.
fn check_root_sandbox(ws: &Workspace, runtime: &Runtime) -> Result<()> {
    if runtime.builtin
        && runtime.name == "claude"
        && running_as_root()
        && !passthrough_env(ws, runtime)
            .iter()
            .any(|(k, v)| k == "IS_SANDBOX" && !v.is_empty())
    {
        return Err(Error::refused(
            "claude refuses to skip permissions as root: run gt as another user, \
             or set IS_SANDBOX=1 if this machine is a sandbox",
        ));
    }
    Ok(())
}

/// The agent's argv for a session: the runtime's, with the hook settings of
/// `agent_hooks::prepare` (written outside the repository) and the first instruction.
pub fn agent_argv(
    ws: &Workspace,
    s: &Session,
    bead: &Bead,
    runtime: &Runtime,
    resume: bool,
) -> Result<Vec<String>> {
    let extra = crate::agent_hooks::prepare(ws, runtime, &s.rig, &s.polecat)?;
    let instruction = first_instruction(bead, &s.agent(), &ws.gt_exe);
    Ok(runtime.argv_with(&extra, resume, Some(&instruction)))
}

/// Starts the agent in tmux for a hooked session and watches it briefly.
/// On failure the caller releases the hook.
fn start_agent(
    ws: &Workspace,
    s: &Session,
    bead: &Bead,
    runtime: &Runtime,
    resume: bool,
    wt: &Path,
) -> Result<()> {
    check_agent_command(ws, runtime)?;
    let argv = agent_argv(ws, s, bead, runtime, resume)?;
    let env = session_env(ws, runtime, &s.rig, &s.polecat, &s.bead, &s.branch, s.id);
    match ws.tmux.new_session(&s.tmux_session, wt, &env, &argv) {
        // A stale session of the same polecat (dead pane, crashed agent) is
        // replaced; asking only on conflict saves a tmux call per sling.
        Err(Error::Refused(_)) => {
            ws.tmux.kill_session(&s.tmux_session)?;
            ws.tmux.new_session(&s.tmux_session, wt, &env, &argv)
        }
        other => other,
    }
}

/// Watches a just-started session: an agent that exits at once without
/// `gt done` is a failed start.
fn watch_start(ws: &Workspace, s: &Session) -> Result<()> {
    let deadline = Instant::now() + ws.start_watch;
    loop {
        match ws.tmux.session_info(&s.tmux_session)? {
            None => {
                return Err(Error::refused(
                    "the agent's tmux session vanished at once".to_string(),
                ))
            }
            Some(info) if info.pane_dead => {
                // Finished legitimately (fast agents run `gt done` quickly)?
                if !ws.store.get_session(s.id)?.is_open() {
                    return Ok(());
                }
                let screen = ws.tmux.capture_pane(&s.tmux_session, 5).unwrap_or_default();
                let tail = screen
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_string();
                return Err(Error::refused(format!(
                    "the agent exited at once ({}){}",
                    info.dead_status
                        .map(|c| format!("exit code {c}"))
                        .unwrap_or_else(|| "killed".into()),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                )));
            }
            Some(_) if Instant::now() >= deadline => return Ok(()),
            Some(_) => std::thread::sleep(Duration::from_millis(40)),
        }
    }
}

/// Types the first instruction once the agent shows its ready pattern.
fn deliver_when_ready(ws: &Workspace, s: &Session, bead: &Bead, runtime: &Runtime) -> Result<()> {
    if runtime.prompt != PromptDelivery::TypeWhenReady {
        return Ok(());
    }
    let Some(pattern) = runtime.ready_pattern.as_deref() else {
        return Ok(());
    };
    let deadline = Instant::now() + READY_WAIT;
    while Instant::now() < deadline {
        if ws.tmux.capture_pane(&s.tmux_session, 50)?.contains(pattern) {
            ws.tmux.send_literal(
                &s.tmux_session,
                &first_instruction(bead, &s.agent(), &ws.gt_exe),
            )?;
            return ws.tmux.send_enter(&s.tmux_session);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(Error::refused(format!(
        "agent '{}' did not show its ready prompt within {}s",
        runtime.name,
        READY_WAIT.as_secs()
    )))
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
                "the town is at capacity (scheduler.max_polecats); {} stays queued",
                bead.id
            )));
        }
        if full {
            crate::scheduler::enqueue(
                ws,
                &bead.id,
                &target_address(&target),
                req.agent.as_deref(),
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
                convoy: None,
            });
            continue;
        }
        let chosen = match &target {
            Target::Polecat(r, p) => polecat_for(ws, r, p, actor),
            Target::Rig(r) => pick_polecat(ws, r, actor, &used),
        };
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
    let alive = matches!(ws.tmux.session_info(&s.tmux_session)?, Some(i) if !i.pane_dead);
    if alive && !force {
        return Err(Error::refused(format!(
            "{bead} is already hooked to {} (live session {}); use --force to take it over",
            s.agent(),
            s.tmux_session
        )));
    }
    if alive {
        ws.tmux.kill_session(&s.tmux_session)?;
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
            let _ = ws.tmux.kill_session(&tmux_session);
        }
        if fresh.polecat && !wt_existed {
            let wt = ws.worktree(&rig.name, &polecat.name);
            if wt.exists() {
                let _ = ws.git.worktree_remove(&repo, &wt, true);
            }
            let _ = ws.git.worktree_prune(&repo);
            if branch_created {
                let _ = ws.git.delete_branch(&repo, &branch, true);
            }
        } else if branch_created {
            // A reused worktree was switched to the new branch: leave it
            // detached where it is and drop the branch unless it holds
            // commits (`-d`, never forced).
            let wt = ws.worktree(&rig.name, &polecat.name);
            if ws.git.detach_head(&wt).is_ok() {
                let _ = ws.git.delete_branch(&repo, &branch, false);
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
        let refs = ws.git.resolve_many(
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
    let started = (|| -> Result<PathBuf> {
        let wt = prepare_worktree(ws, rig, &polecat.name, &branch, &base, branch_exists)?;
        drop(lock);
        // A trusted rig's new worktree is trusted before the agent starts,
        // so no folder-trust dialog stops it (a file gt cannot read is
        // left alone; the dialog is then reported, never answered).
        crate::trust::trust_worktree(ws, &rig.name, &wt, &crate::trust::TrustEnv::of(&ws.caller))?;
        start_agent(ws, &session, bead, runtime, resume, &wt)?;
        ws.store.mark_running(session.id, actor)?;
        watch_start(ws, &session)?;
        deliver_when_ready(ws, &session, bead, runtime)?;
        Ok(wt)
    })();
    match started {
        Ok(wt) => Ok(Slung {
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
        }),
        Err(e) => {
            undo(Some(session.id), !branch_exists, &e)?;
            Err(e)
        }
    }
}

/// The caller's polecat: `GT_AGENT`, else the worktree containing `cwd`.
pub fn caller(ws: &Workspace, cwd: &Path) -> Result<Polecat> {
    if let Some(agent) = ws.caller.agent() {
        let (rig, pc) = parse_address(agent)?;
        return ws.store.get_polecat(&rig, &pc);
    }
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let (rig, pc) = ws.polecat_at(&cwd).ok_or_else(|| {
        Error::refused(
            "not inside a polecat: run this in an agent session (GT_AGENT) or its worktree",
        )
    })?;
    ws.store.get_polecat(&rig, &pc)
}

/// What `gt hook` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Hook {
    pub agent: String,
    pub rig: String,
    pub polecat: String,
    pub bead: Bead,
    pub branch: String,
    pub base_commit: String,
    pub session: String,
    pub session_id: i64,
    pub worktree: PathBuf,
}

/// The caller's hooked bead and session.
pub fn hook(ws: &Workspace, cwd: &Path) -> Result<Hook> {
    let p = caller(ws, cwd)?;
    let bead_id = p
        .bead
        .clone()
        .ok_or_else(|| Error::not_found("hooked bead for", p.address()))?;
    let s = ws
        .store
        .list_sessions(&SessionFilter {
            rig: Some(&p.rig),
            polecat: Some(&p.name),
            bead: Some(&bead_id),
            limit: Some(1),
            ..Default::default()
        })?
        .pop()
        .ok_or_else(|| Error::not_found("session for", p.address()))?;
    Ok(Hook {
        agent: p.address(),
        rig: p.rig.clone(),
        polecat: p.name.clone(),
        bead: ws.store.get_bead(&bead_id)?,
        branch: s.branch.clone(),
        base_commit: s.base_commit.clone(),
        session: s.tmux_session.clone(),
        session_id: s.id,
        worktree: ws.worktree(&p.rig, &p.name),
    })
}

/// The Markdown briefing `gt prime` prints: short, since agents pay per token.
pub fn prime(ws: &Workspace, cwd: &Path) -> Result<String> {
    let h = hook(ws, cwd)?;
    let d = ws.store.bead_details(&h.bead.id)?;
    let mut md = format!(
        "# You are {agent} (Gas Town polecat)\n\n## Your bead: {id} — {title}\n",
        agent = h.agent,
        id = h.bead.id,
        title = h.bead.title
    );
    if !h.bead.description.trim().is_empty() {
        md.push_str(&format!("\n{}\n", h.bead.description.trim()));
    }
    if let Some(ac) = h
        .bead
        .metadata
        .get("acceptance_criteria")
        .and_then(|v| v.as_str())
    {
        md.push_str(&format!("\n### Acceptance\n{}\n", ac.trim()));
    }
    let notes: Vec<_> = d.comments.iter().rev().take(3).collect();
    if !notes.is_empty() {
        md.push_str("\n### Notes\n");
        for c in notes.iter().rev() {
            md.push_str(&format!("- {}: {}\n", c.author, c.text.trim()));
        }
    }
    md.push_str(&format!(
        "\nBranch `{}` (cut from `{}`), worktree `{}`.\n\n## Rules\n\
         - Work only in this worktree; commit your work with clear messages.\n\
         - When finished run `gt done` (`--wip` commits leftovers; `--no-changes` if no code was needed).\n\
         - Read `gt mail inbox` for messages.\n\
         - Blocked? `gt escalate \"why\"` — or `gt done --status escalated -m \"why\"`.\n\
         - `gt` is `{}` (also in `$GT_BIN`): call it by that path where `gt` is not on PATH.\n",
        h.branch,
        &h.base_commit[..h.base_commit.len().min(12)],
        h.worktree.display(),
        ws.gt_exe.display()
    ));
    md.push_str(&crate::mail::prime_section(ws, &h.agent)?);
    Ok(md)
}

#[derive(Debug, Clone, Default)]
pub struct DoneArgs {
    pub status: Option<DoneStatus>,
    pub note: Option<String>,
    pub wip: bool,
    pub no_changes: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoneReport {
    pub agent: String,
    pub bead: String,
    pub status: DoneStatus,
    pub branch: String,
    pub head_commit: String,
    pub commits: usize,
    pub wip_commit: Option<String>,
    #[serde(flatten)]
    pub outcome: DoneOutcome,
}

/// `gt done`, run inside the agent's session or worktree.
pub fn done(ws: &Workspace, cwd: &Path, args: &DoneArgs, actor: &str) -> Result<DoneReport> {
    let status = args.status.unwrap_or(DoneStatus::Completed);
    if let Some(n) = &args.note {
        crate::bead::validate_comment(n)?;
    }
    let h = hook(ws, cwd)?;
    let session = ws.store.get_session(h.session_id)?;
    if !session.is_open() {
        return Err(Error::refused(format!(
            "{} has no open session on {}",
            h.agent, h.bead.id
        )));
    }
    let wt = &h.worktree;
    let mut wip_commit = None;
    if own_worktree_dirty(ws, wt)? {
        if !args.wip {
            return Err(Error::refused(
                "uncommitted changes in the worktree: commit them, or run gt done --wip to commit them as they are",
            ));
        }
        wip_commit = ws
            .git
            .commit_all(wt, &format!("WIP: {} ({})", h.bead.title, h.bead.id))?;
    }
    let repo = ws.repo_dir(&h.rig);
    let head = ws
        .git
        .resolve(wt, "HEAD")?
        .ok_or_else(|| Error::refused("the worktree has no HEAD commit"))?;
    let branch_tip = ws.git.resolve(&repo, &format!("refs/heads/{}", h.branch))?;
    if branch_tip.as_deref() != Some(head.as_str()) {
        return Err(Error::refused(format!(
            "HEAD is not the tip of {}: commit on that branch (git switch {}) and try again",
            h.branch, h.branch
        )));
    }
    let commits = ws.git.count_commits_between(&repo, &h.base_commit, &head)?;
    if status == DoneStatus::Completed && commits == 0 && !args.no_changes {
        return Err(Error::refused(format!(
            "no commits on {} beyond its base: commit your work, or run gt done --no-changes if none was needed",
            h.branch
        )));
    }
    let outcome = ws.store.finish(
        &DoneRequest {
            session: session.id,
            status,
            note: args.note.as_deref(),
            head_commit: &head,
            no_changes: status == DoneStatus::Completed && commits == 0,
        },
        actor,
    )?;
    // End the session after this command has returned to the agent.
    let _ = ws.tmux.kill_session_later(&session.tmux_session, 1);
    Ok(DoneReport {
        agent: h.agent,
        bead: h.bead.id,
        status,
        branch: h.branch,
        head_commit: head,
        commits,
        wip_commit,
        outcome,
    })
}

/// `gt resume BEAD`: a new session on the same polecat, worktree and branch
/// for a bead whose session ended (or died) without `gt done`.
pub fn resume(ws: &Workspace, bead: &str, agent: Option<&str>, actor: &str) -> Result<Slung> {
    let bead = ws.store.get_bead(bead)?;
    let last = ws
        .store
        .list_sessions(&SessionFilter {
            bead: Some(&bead.id),
            limit: Some(1),
            ..Default::default()
        })?
        .pop()
        .ok_or_else(|| Error::refused(format!("{} has never been slung; use gt sling", bead.id)))?;
    if last.end_reason.as_deref() == Some(end_reason::DONE) {
        return Err(Error::refused(format!("{} already ran gt done", bead.id)));
    }
    let rig = ws.store.get_rig(&last.rig)?;
    let polecat = ws.store.get_polecat(&last.rig, &last.polecat)?;
    if polecat.bead.as_deref().is_some_and(|b| b != bead.id) {
        return Err(Error::refused(format!(
            "polecat {} has moved on to other work; sling {} again instead",
            polecat.address(),
            bead.id
        )));
    }
    let runtime = match agent {
        Some(a) => ws.town.config.runtime(a)?,
        None => ws.town.config.runtime(&last.runtime)?,
    };
    sling_one(
        ws,
        &rig,
        &polecat,
        &bead,
        &runtime,
        false,
        true,
        actor,
        Fresh::default(),
        None,
    )
}

/// A session as `gt agents` shows it, with its liveness checked against tmux.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub agent: String,
    pub rig: String,
    pub polecat: String,
    /// The polecat's state now (for an ended row it may hold other work).
    pub polecat_state: Option<PolecatState>,
    pub bead: String,
    pub runtime: String,
    pub session: String,
    pub session_id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    /// `running`, `exited` (agent process gone, pane kept), `vanished` (no
    /// tmux session), or `ended` (recorded end).
    pub live: String,
    pub exit_code: Option<i32>,
    /// What the agent is doing, checked now (open sessions only): see
    /// [`crate::problems::AgentState`].
    pub state: Option<crate::problems::AgentState>,
    /// Latest screen change, own event, commit or session start; for an
    /// ended session, when it ended.
    pub last_activity: Option<String>,
    /// How `state` was learned: `tmux`, `hook` or `screen`.
    pub state_source: Option<&'static str>,
    /// The problem this agent has, if any (open sessions only).
    pub problem: Option<crate::problems::ProblemKind>,
    /// What was seen, e.g. the error of a deacon step that fails for it.
    pub problem_detail: Option<String>,
}

/// Open sessions and the `recent` most recent ended ones.
pub fn agents(ws: &Workspace, recent: usize) -> Result<Vec<AgentView>> {
    let open = ws.store.list_sessions(&SessionFilter {
        open_only: true,
        ..Default::default()
    })?;
    let mut all = ws.store.list_sessions(&SessionFilter {
        limit: Some(recent + open.len()),
        ..Default::default()
    })?;
    all.retain(|s| !s.is_open());
    let ended: Vec<Session> = all.into_iter().rev().take(recent).rev().collect();
    let tmux = ws.tmux.list_sessions()?;
    let activity = if open.is_empty() {
        Vec::new()
    } else {
        crate::problems::observe_with(ws, &crate::problems::Thresholds::default(), &tmux)?
    };
    let mut out = Vec::new();
    for s in ended.iter().chain(open.iter()) {
        let act = activity
            .iter()
            .find(|a| s.is_open() && a.session_id == Some(s.id));
        let info = tmux.iter().find(|i| i.name == s.tmux_session);
        let (live, exit_code) = match (s.is_open(), info) {
            (false, _) => ("ended", None),
            (true, None) => ("vanished", None),
            (true, Some(i)) if i.pane_dead => ("exited", i.dead_status),
            (true, Some(_)) => ("running", None),
        };
        out.push(AgentView {
            agent: s.agent(),
            rig: s.rig.clone(),
            polecat: s.polecat.clone(),
            polecat_state: ws
                .store
                .get_polecat(&s.rig, &s.polecat)
                .ok()
                .map(|p| p.state),
            bead: s.bead.clone(),
            runtime: s.runtime.clone(),
            session: s.tmux_session.clone(),
            session_id: s.id,
            started_at: s.started_at.clone(),
            ended_at: s.ended_at.clone(),
            end_reason: s.end_reason.clone(),
            live: live.to_string(),
            exit_code,
            state: act.map(|a| a.state),
            // An ended row's last sign of life is its own end.
            last_activity: if s.is_open() {
                act.and_then(|a| a.last_activity.clone())
            } else {
                s.ended_at.clone()
            },
            problem: act.and_then(|a| a.problem.as_ref().map(|p| p.kind)),
            problem_detail: act.and_then(|a| a.problem.as_ref().map(|p| p.detail.clone())),
            state_source: act.and_then(|a| a.state_source),
        });
    }
    Ok(out)
}

/// The runtime of a polecat's latest session, if it still exists.
pub fn last_runtime(ws: &Workspace, rig: &str, polecat: &str) -> Result<Option<Runtime>> {
    Ok(ws
        .store
        .last_session(rig, polecat)?
        .and_then(|s| ws.town.config.runtime(&s.runtime).ok()))
}

/// The tmux session of an agent address (`rig/polecat`).
pub fn agent_session(ws: &Workspace, agent: &str) -> Result<String> {
    let (rig, pc) = parse_address(agent)?;
    ws.store.get_polecat(&rig, &pc)?;
    let name = Workspace::session_name(&rig, &pc);
    if !ws.tmux.has_session(&name)? {
        return Err(Error::refused(format!("{agent} has no live session")));
    }
    Ok(name)
}

/// A bead `gt up` could not resume, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotResumed {
    pub agent: String,
    pub bead: String,
    pub error: String,
}

/// What [`resume_stopped`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumedStopped {
    pub resumed: Vec<Slung>,
    pub not_resumed: Vec<NotResumed>,
}

/// `gt up`: resumes every agent that `gt down --all` stopped — a polecat
/// still holding the bead of its last session, which ended `stopped`.
pub fn resume_stopped(ws: &Workspace, actor: &str) -> Result<ResumedStopped> {
    let mut out = ResumedStopped::default();
    // Several `gt up` at once resume each agent once: the second sees the
    // first one's new session.
    let _lock = sling_lock(ws)?;
    for p in ws.store.list_polecats(None)? {
        let Some(bead) = p.bead.clone() else { continue };
        if p.state != PolecatState::Working {
            continue;
        }
        let last = ws.store.last_session(&p.rig, &p.name)?;
        let stopped = last.is_some_and(|s| {
            s.bead == bead && s.end_reason.as_deref() == Some(end_reason::STOPPED)
        });
        if !stopped {
            continue;
        }
        match resume(ws, &bead, None, actor) {
            Ok(s) => out.resumed.push(s),
            Err(e) => out.not_resumed.push(NotResumed {
                agent: p.address(),
                bead,
                error: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// How long a live tmux session of a recorded session that was never marked
/// running is left to the `gt sling` that started it before the deacon
/// adopts it.
pub const ADOPT_AFTER_SECS: i64 = 3;

/// A patrol step: open sessions whose agent runs in tmux but whose start
/// was never recorded (the `gt sling` that started them was killed between
/// starting tmux and recording the start) are adopted — marked running,
/// the bead `in_progress` — so the bead is not `hooked` for good and the
/// usual watch (stalls, exits, restarts) applies. One `deacon.adopted`
/// action each.
pub fn adopt_unrecorded(ws: &Workspace) -> Result<Vec<crate::deacon::Action>> {
    use crate::store::deacon::DeaconStore;
    let open = ws.store.list_sessions(&SessionFilter {
        open_only: true,
        ..Default::default()
    })?;
    let mut out = Vec::new();
    if open.iter().all(|s| s.running_at.is_some()) {
        return Ok(out);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let tmux = ws.tmux.list_sessions()?;
    for s in open.iter().filter(|s| s.running_at.is_none()) {
        let Some(info) = tmux.iter().find(|t| t.name == s.tmux_session) else {
            continue;
        };
        if info.pane_dead || now - info.created < ADOPT_AFTER_SECS {
            continue;
        }
        // Re-read: the sling may have recorded it meanwhile.
        if ws.store.get_session(s.id)?.running_at.is_some() {
            continue;
        }
        ws.store.mark_running(s.id, crate::deacon::ACTOR)?;
        let summary = format!(
            "adopted {} on {}: its agent runs in {} but its start was never recorded",
            s.agent(),
            s.bead,
            s.tmux_session
        );
        ws.store.record_action(
            &format!("adopt:{}", s.id),
            crate::event::NewEvent::new(crate::deacon::kind::ADOPTED, summary.clone())
                .rig(&s.rig)
                .bead(&s.bead)
                .payload(serde_json::json!({ "session": s.id, "tmux": s.tmux_session })),
            crate::deacon::ACTOR,
        )?;
        out.push(crate::deacon::Action {
            kind: crate::deacon::kind::ADOPTED.to_string(),
            agent: Some(s.agent()),
            bead: Some(s.bead.clone()),
            summary,
        });
    }
    Ok(out)
}
