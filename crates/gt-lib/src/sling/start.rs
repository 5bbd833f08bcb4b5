//! Starting an agent: its worktree, its session environment and argv, the
//! launch watch, and the first instruction once it is ready.

use super::*;

/// Puts the polecat's worktree on `branch`: a fresh branch cut from `base`, or
/// the existing branch when it already exists (its commits are kept). An idle
/// worktree with uncommitted changes is first saved in a WIP commit on its
/// current branch, so nothing is lost.
pub(super) fn prepare_worktree(
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
            ws.host.git.commit_all(
                &wt,
                &format!("WIP: saved by gt before polecat {polecat} took new work"),
            )?;
        }
        if exists {
            ws.host
                .git
                .switch_branch(&wt, branch, &format!("refs/heads/{branch}"))?;
        } else {
            ws.host.git.switch_branch(&wt, branch, base)?;
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
                ws.host.git.worktree_add_existing(&repo, &wt, branch)
            } else {
                ws.host.git.worktree_add(&repo, &wt, branch, base)
            }
        };
        // A worktree removed by hand is still registered: prune, then retry.
        if add().is_err() {
            ws.host.git.worktree_prune(&repo)?;
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

/// Where a PostgreSQL store's password comes from when its URL has none.
pub const STORE_PASSWORD_ENV: &[&str] = &["PGPASSWORD", "PGPASSFILE"];

/// The caller's variables a session of `runtime` gets: the preset's own
/// (`ANTHROPIC_*` for claude…), the proxies, the store's password sources
/// in a PostgreSQL town, and the town's `runtime.env`.
/// Never `PATH` or `GT_*` (gt sets those). The values are passed with the
/// session only: never stored, logged or put in an event.
pub fn passthrough_env(ws: &Workspace, runtime: &Runtime) -> Vec<(String, String)> {
    let town = ws.town.config.runtime.env_patterns();
    let mut patterns: Vec<&str> = runtime.env.iter().map(String::as_str).collect();
    patterns.extend(PROXY_ENV);
    // A PostgreSQL town's agents run gt on the same store: they get the
    // caller's password sources (`~/.pgpass` comes with `HOME`).
    if ws.town.is_shared() {
        patterns.extend(STORE_PASSWORD_ENV);
    }
    patterns.extend(town.iter().map(String::as_str));
    ws.caller
        .matching(&patterns)
        .filter(|(k, _)| *k != "PATH" && !k.starts_with("GT_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The caller's git identity (`user.name`, `user.email` as git resolves
/// them in the worktree) as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
/// `GIT_CONFIG_VALUE_n`: Gemini CLI's shell tool runs commands with
/// `GIT_CONFIG_GLOBAL=/dev/null` (it keeps `GIT_CONFIG_KEY_n`), which hides
/// the user's `~/.gitconfig` from the agent's commits. Nothing when the
/// session already gets `GIT_CONFIG_COUNT` from the caller, or no identity
/// is configured.
fn git_identity_env(
    ws: &Workspace,
    wt: &Path,
    passed: &[(String, String)],
) -> Vec<(String, String)> {
    if passed.iter().any(|(k, _)| k == "GIT_CONFIG_COUNT") || !wt.is_dir() {
        return Vec::new();
    }
    let identity = ws.host.git.user_identity(wt).unwrap_or_default();
    if identity.is_empty() {
        return Vec::new();
    }
    let mut env = vec![("GIT_CONFIG_COUNT".to_string(), identity.len().to_string())];
    for (i, (k, v)) in identity.into_iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), k));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), v));
    }
    env
}

/// Whether the runtime's shell tool hides the user's git configuration
/// (Gemini CLI runs commands with `GIT_CONFIG_GLOBAL=/dev/null`): its
/// sessions get the caller's identity as [`git_identity_env`]. The others
/// read `~/.gitconfig` themselves (and save a git call per sling).
fn hides_git_config(runtime: &Runtime) -> bool {
    runtime.traits.hides_git_config
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
        .host
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
    if runtime.traits.model_request_hook {
        // gt's settings file carries the user's system settings.
        env.retain(|(k, _)| k != crate::agent_hooks::GEMINI_SYSTEM_SETTINGS);
        env.extend(crate::agent_hooks::gemini_env(ws, rig, polecat));
    }
    if hides_git_config(runtime) {
        let identity = git_identity_env(ws, &ws.worktree(rig, polecat), &env);
        env.extend(identity);
    }
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
        (
            "GT_BIN".into(),
            ws.host.gt_exe.to_string_lossy().into_owned(),
        ),
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

/// The first instruction for `runtime`: [`first_instruction`], except for a
/// CLI that cannot run gt (`Completion::CommitsAtPrompt`, aider), which is
/// told what it can do — edit, its edits are committed — and that gt
/// finishes the bead once it is back at its prompt with its work committed.
pub fn first_instruction_for(runtime: &Runtime, bead: &Bead, agent: &str, gt: &Path) -> String {
    if runtime.completion != crate::runtime::Completion::CommitsAtPrompt {
        return first_instruction(bead, agent, gt);
    }
    format!(
        "You are {agent}, a Gas Town polecat. Your bead is {}: {}. Make the change in this repository's \
         files; your edits are committed as you make them, and gt finishes the bead once you are back at \
         this prompt with the work committed.",
        bead.id, bead.title
    )
}

/// Whether this process runs as root (the agents run as the same user).
pub(super) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A CLI that refuses its skip-permissions flag as root unless `IS_SANDBOX`
/// is set (Claude Code, [`gt_agents::runtime::Traits::root_needs_sandbox`]):
/// say so before anything is written.
pub(super) fn check_root_sandbox(ws: &Workspace, runtime: &Runtime) -> Result<()> {
    if runtime.traits.root_needs_sandbox
        && running_as_root()
        && !passthrough_env(ws, runtime)
            .iter()
            .any(|(k, v)| k == "IS_SANDBOX" && !v.is_empty())
    {
        return Err(Error::refused(format!(
            "{} refuses to skip permissions as root: run gt as another user, \
             or set IS_SANDBOX=1 if this machine is a sandbox",
            runtime.name
        )));
    }
    Ok(())
}

/// Added to the first instruction of a resumed session whose runtime starts
/// a fresh conversation (no resume mechanism, or no conversation recorded).
pub const RESUMED_AFRESH: &str =
    "An earlier session on this bead ended before it was done; its work \
     (saved uncommitted changes included) is committed on your branch: read `git log` and the \
     briefing, and continue from there.";

/// The agent's argv for a session: the runtime's, with the hook settings of
/// `agent_hooks::prepare` (written outside the repository) and the first instruction.
/// A resumed Claude Code session continues the conversation of the bead's
/// previous session with `--resume ID` when that session recorded Claude's
/// `session_id` (its SessionStart hook); else it starts afresh (never
/// `--continue`, which exits when there is nothing to continue).
pub fn agent_argv(
    ws: &Workspace,
    s: &Session,
    bead: &Bead,
    runtime: &Runtime,
    resume: bool,
) -> Result<Vec<String>> {
    let mut extra = crate::agent_hooks::prepare(ws, runtime, &s.rig, &s.polecat)?;
    let mut continues = !runtime.resume_args.is_empty();
    if resume && crate::agent_hooks::has_hooks(runtime) {
        if let Some(id) = previous_conversation(ws, s)? {
            extra.extend(["--resume".to_string(), id]);
            continues = true;
        }
    }
    let mut instruction = first_instruction_for(runtime, bead, &s.agent(), &ws.host.gt_exe);
    if resume && !continues {
        // A fresh conversation on resumed work: say so, or the agent starts
        // the bead again from nothing.
        instruction.push(' ');
        instruction.push_str(RESUMED_AFRESH);
    }
    Ok(runtime.argv_with(&extra, resume, Some(&instruction)))
}

/// The runtime's conversation id recorded by the session of the same bead
/// and polecat before `s`, when that session ran the same runtime.
fn previous_conversation(ws: &Workspace, s: &Session) -> Result<Option<String>> {
    use crate::store::CostStore;
    let prev = ws
        .store
        .list_sessions(&SessionFilter {
            bead: Some(&s.bead),
            ..Default::default()
        })?
        .into_iter()
        .filter(|p| p.id < s.id && p.polecat == s.polecat && p.rig == s.rig)
        .max_by_key(|p| p.id);
    let Some(prev) = prev.filter(|p| p.runtime == s.runtime) else {
        return Ok(None);
    };
    Ok(ws
        .store
        .agent_session_id(prev.id)?
        .filter(|id| crate::store::costs::validate_agent_session_id(id).is_ok()))
}

/// Starts the agent in tmux for a hooked session and watches it briefly.
/// On failure the caller releases the hook.
pub(super) fn start_agent(
    ws: &Workspace,
    s: &Session,
    bead: &Bead,
    runtime: &Runtime,
    resume: bool,
    wt: &Path,
) -> Result<()> {
    check_agent_command(ws, runtime)?;
    // A session id can be reused after a failed sling was taken back.
    crate::screens::forget(ws, s.id);
    let argv = agent_argv(ws, s, bead, runtime, resume)?;
    let env = session_env(ws, runtime, &s.rig, &s.polecat, &s.bead, &s.branch, s.id);
    match ws.host.tmux.new_session(&s.tmux_session, wt, &env, &argv) {
        // A stale session of the same polecat (dead pane, crashed agent) is
        // replaced; asking only on conflict saves a tmux call per sling.
        Err(Error::Refused(_)) => {
            ws.host.tmux.kill_session(&s.tmux_session)?;
            ws.host.tmux.new_session(&s.tmux_session, wt, &env, &argv)
        }
        other => other,
    }
}

/// How long the launch watch waits at most for a runtime that says when it
/// is ready (hooks, or ready/busy texts on screen).
pub const LAUNCH_WATCH: Duration = Duration::from_secs(8);

/// Watches a just-started session until the runtime shows it is up: a hook
/// report since the session started, or a screen the one classifier reads as
/// idle, working or a dialog (a dialog is reported by `gt agents` and the
/// deacon, never answered). A runtime with no such signal is watched for
/// [`Workspace::start_watch`]; one with a signal up to [`LAUNCH_WATCH`] (a
/// slow start is then left to the deacon). An agent that exits first without
/// `gt done` is a failed start: its last screen is named in the error. A
/// dialog on screen is returned (its reason).
pub(super) fn watch_start(
    ws: &Workspace,
    s: &Session,
    runtime: &Runtime,
) -> Result<Option<crate::screen::DialogReason>> {
    let started = Instant::now();
    let patterns = crate::screen::Patterns::for_runtime(runtime);
    let has_signal = crate::agent_hooks::has_hooks(runtime)
        || patterns.ready.is_some()
        || !patterns.preset.ready.is_empty()
        || !patterns.preset.busy.is_empty();
    // Zero: one look (a fake tmux does not change by itself).
    let limit = if has_signal && !ws.host.start_watch.is_zero() {
        LAUNCH_WATCH.max(ws.host.start_watch)
    } else {
        ws.host.start_watch
    };
    let mut up_since: Option<Instant> = None;
    loop {
        match ws.host.tmux.session_info(&s.tmux_session)? {
            None => {
                // A fast agent's `gt done` ends its session a second later.
                if !ws.store.get_session(s.id)?.is_open() {
                    return Ok(None);
                }
                return Err(Error::refused(
                    "the agent's tmux session vanished at once".to_string(),
                ));
            }
            Some(info) if info.pane_dead => {
                // Finished legitimately (fast agents run `gt done` quickly)?
                if !ws.store.get_session(s.id)?.is_open() {
                    return Ok(None);
                }
                let screen = ws
                    .host
                    .tmux
                    .capture_pane(&s.tmux_session, crate::screens::KEPT_LINES)
                    .unwrap_or_default();
                let tail = crate::screens::last_line(&screen).unwrap_or("").to_string();
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
            Some(_) if has_signal => {
                match reports_up(ws, s, &patterns)? {
                    Up::Hook => return Ok(None),
                    Up::Dialog(reason) => return Ok(Some(reason)),
                    // A splash can look ready before a dialog replaces it
                    // (codex): the screen must stay up for a while.
                    Up::Screen => {
                        let since = *up_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= SCREEN_SETTLE {
                            return Ok(None);
                        }
                    }
                    Up::NotYet => up_since = None,
                }
                if started.elapsed() >= limit {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Some(_) if started.elapsed() >= limit => return Ok(None),
            Some(_) => std::thread::sleep(Duration::from_millis(40)),
        }
    }
}

/// How long a screen must read idle or busy before the launch watch counts
/// the agent as up (codex shows its prompt for half a second before its
/// folder-trust dialog).
const SCREEN_SETTLE: Duration = Duration::from_millis(1500);

/// What the launch watch saw.
enum Up {
    /// A hook report since the session started.
    Hook,
    /// An idle or busy screen.
    Screen,
    /// A dialog or question on screen.
    Dialog(crate::screen::DialogReason),
    NotYet,
}

fn reports_up(ws: &Workspace, s: &Session, patterns: &crate::screen::Patterns) -> Result<Up> {
    use crate::screen::ScreenState;
    if let Some(st) = ws.store.agent_state(&s.agent())? {
        if st.source == "hook" && st.updated_at >= s.started_at {
            return Ok(Up::Hook);
        }
    }
    // The session may end between the two tmux calls (a fast agent's `gt
    // done`): the next look at the session decides.
    let Ok(screen) = ws.host.tmux.capture_pane(&s.tmux_session, 50) else {
        return Ok(Up::NotYet);
    };
    Ok(match crate::screen::classify(&screen, patterns) {
        ScreenState::Idle | ScreenState::Working => Up::Screen,
        ScreenState::WaitingForInput { reason, .. } => Up::Dialog(reason),
        _ => Up::NotYet,
    })
}

/// Types the first instruction once the agent shows its ready pattern.
pub(super) fn deliver_when_ready(
    ws: &Workspace,
    s: &Session,
    bead: &Bead,
    runtime: &Runtime,
) -> Result<()> {
    if runtime.prompt != PromptDelivery::TypeWhenReady {
        return Ok(());
    }
    let Some(pattern) = runtime.ready_pattern.as_deref() else {
        return Ok(());
    };
    let deadline = Instant::now() + READY_WAIT;
    while Instant::now() < deadline {
        if ws
            .host
            .tmux
            .capture_pane(&s.tmux_session, 50)?
            .contains(pattern)
        {
            return ws.submit_text(
                &s.tmux_session,
                &first_instruction_for(runtime, bead, &s.agent(), &ws.host.gt_exe),
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let screen = ws
        .host
        .tmux
        .capture_pane(&s.tmux_session, 50)
        .unwrap_or_default();
    Err(Error::refused(format!(
        "agent '{}' did not show its ready prompt within {}s{}",
        runtime.name,
        READY_WAIT.as_secs(),
        crate::screens::last_line(&screen)
            .map(|l| format!("; its screen ends: {l}"))
            .unwrap_or_default()
    )))
}
