//! `gt agents`: live and recent agent sessions, and finding an agent's
//! session and runtime.

use super::*;

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
    /// tmux session), `remote` (open on another host, whose daemon watches
    /// it), or `ended` (recorded end).
    pub live: String,
    /// The host that runs (or ran) it; null for sessions from before hosts.
    pub host: Option<String>,
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
    /// For a session whose pane is gone: the last line of the screen gt
    /// kept when it saw the pane dead or stopped it (`gt peek` shows it all).
    pub last_screen: Option<String>,
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
    let tmux = ws.host.tmux.list_sessions()?;
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
        // Another host's agent: its state as that host stored it.
        let here = ws.runs_here(s);
        let (live, exit_code) = match (s.is_open(), info) {
            (false, _) => ("ended", None),
            (true, _) if !here => ("remote", None),
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
            host: s.host.clone(),
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
            last_screen: if live == "running" || live == "exited" || live == "remote" {
                None
            } else {
                crate::screens::kept(ws, s.id).and_then(|k| k.last_line().map(str::to_string))
            },
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

/// The kept last screen of an agent's latest session, when its pane is gone
/// (see [`crate::screens`]).
pub fn last_screen(ws: &Workspace, agent: &str) -> Result<Option<crate::screens::KeptScreen>> {
    let (rig, pc) = parse_address(agent)?;
    if ws
        .host
        .tmux
        .has_session(&Workspace::session_name(&rig, &pc))?
    {
        return Ok(None);
    }
    Ok(ws
        .store
        .last_session(&rig, &pc)?
        .and_then(|s| crate::screens::kept(ws, s.id)))
}

/// The screen of an agent whose open session runs on another host of the
/// town, as that host's daemon last stored it: `(host, screen)`; `None`
/// when the agent does not run elsewhere. An agent that runs elsewhere but
/// whose host has stored no screen of this session yet is refused.
pub fn remote_screen(
    ws: &Workspace,
    agent: &str,
) -> Result<Option<(String, crate::store::observe::StoredScreen)>> {
    let (rig, pc) = parse_address(agent)?;
    let Some(s) = ws
        .store
        .last_session(&rig, &pc)?
        .filter(|s| s.is_open() && !ws.runs_here(s))
    else {
        return Ok(None);
    };
    let host = s.host.clone().unwrap_or_default();
    match ws.store.stored_screen(&s.agent())? {
        Some(screen) if screen.session_id == s.id => Ok(Some((host, screen))),
        _ => Err(Error::refused(format!(
            "{agent} runs on host {host}, which has not stored its screen yet (its daemon does each patrol)"
        ))),
    }
}

/// The tmux session name an agent address has on whichever host runs it.
pub fn remote_session_name(agent: &str) -> Result<String> {
    let (rig, pc) = parse_address(agent)?;
    Ok(Workspace::session_name(&rig, &pc))
}

/// The tmux session of an agent address (`rig/polecat`).
pub fn agent_session(ws: &Workspace, agent: &str) -> Result<String> {
    let (rig, pc) = parse_address(agent)?;
    ws.store.get_polecat(&rig, &pc)?;
    let name = Workspace::session_name(&rig, &pc);
    if !ws.host.tmux.has_session(&name)? {
        return Err(Error::refused(format!("{agent} has no live session")));
    }
    Ok(name)
}
