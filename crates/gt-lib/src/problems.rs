//! What each agent is doing, and which agents need someone.
//!
//! Liveness is always read from tmux at the moment of the check, never
//! inferred from old records. "Last activity" is the latest of: a screen
//! change gt observed (samples are stored in `agent_activity`), an event
//! caused by the agent (its `gt` commands), a commit on its branch (the
//! branch ref's modification time), a report of its runtime hooks
//! (`agent_state`), and the start of its session.
//!
//! An agent is a problem when:
//! - **zombie**: it holds a hooked / in-progress bead but has no live tmux
//!   session;
//! - **ended without done**: its agent process exited (or its session was
//!   recorded as exited) without `gt done`;
//! - **waiting for input**: its screen shows a permission or yes/no question;
//! - **idle with work**: it sits at its prompt holding a bead, quiet for the
//!   idle threshold;
//! - **stalled**: alive, but nothing changed for the stall threshold (the
//!   screen must have been observed unchanged that long);
//! - **agent failing**: a patrol step of the deacon fails for this agent
//!   (e.g. its worktree is broken, so its work cannot be saved); the rest of
//!   the town is still served. The error is in the problem's detail.
//!
//! Besides agents, a **rig failing** problem is a rig whose refinery (or
//! another per-rig step) fails, and **patrol failing** a patrol step that
//! fails for the whole town (tmux or the database cannot be read).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::bead::Status;
use crate::clock::{format_ts, parse_ts};
use crate::error::Result;
use crate::polecat::{Polecat, PolecatState};
use crate::session::{end_reason, Session};
use crate::store::deacon::{DeaconStore, Fault};
use crate::store::observe::{HookState, ObserveStore, ScreenObservation, ScreenSample};
use crate::store::{BeadStore, RigStore, WorkStore};
use crate::tmux::SessionInfo;
use crate::workspace::Workspace;

/// Lines of the pane looked at when sampling a screen.
pub const SCREEN_LINES: usize = 40;
/// A session recorded but not yet seen running is "starting" this long.
const START_GRACE: Duration = Duration::from_secs(15);

/// When quiet becomes a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Alive but nothing changed this long: stalled.
    pub stall: Duration,
    /// At its prompt, holding work, quiet this long: idle with work.
    pub idle: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stall: Duration::from_secs(10 * 60),
            idle: Duration::from_secs(2 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    PatrolFailing,
    RigFailing,
    AgentFailing,
    /// A rig's repository config was changed behind gt's back (see
    /// [`crate::repo_guard`]); not an agent's state.
    ConfigTampered,
    Zombie,
    EndedWithoutDone,
    WaitingForInput,
    Stalled,
    IdleWithWork,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::PatrolFailing => "patrol_failing",
            ProblemKind::RigFailing => "rig_failing",
            ProblemKind::AgentFailing => "agent_failing",
            ProblemKind::ConfigTampered => "config_tampered",
            ProblemKind::Zombie => "zombie",
            ProblemKind::EndedWithoutDone => "ended_without_done",
            ProblemKind::WaitingForInput => "waiting_for_input",
            ProblemKind::Stalled => "stalled",
            ProblemKind::IdleWithWork => "idle_with_work",
        }
    }
}

/// An agent that needs someone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `rig/polecat`.
    pub agent: String,
    pub rig: String,
    pub polecat: String,
    pub kind: ProblemKind,
    pub bead: Option<String>,
    /// The tmux session name, when there is one.
    pub session: Option<String>,
    /// Since when (as far as gt knows) the condition holds.
    pub since: Option<String>,
    pub last_activity: Option<String>,
    /// One line saying what was seen.
    pub detail: String,
    /// What to do about it (a command).
    pub suggested_action: String,
    /// For `waiting_for_input`: the kind of dialog the screen shows
    /// (`folder_trust`, `bypass_permissions`, `api_key_approval`, `login`,
    /// `permission`, `confirm`), when the classifier knows it. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::screen::DialogReason>,
}

/// What an agent is doing, as one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// No work held.
    Idle,
    /// Session recorded, agent not yet seen running.
    Starting,
    Working,
    IdleWithWork,
    WaitingForInput,
    Stalled,
    /// Holds work, no live session.
    Zombie,
    /// The agent process ended without `gt done`.
    Exited,
    /// Holds work whose session was ended on purpose by `gt down --all`:
    /// not a problem; `gt up` resumes it.
    Stopped,
    /// Its hooks report that the model API failed (`StopFailure`), or its
    /// screen shows the preset's error text.
    Error,
    /// Its hooks report the model API's rate limit (`StopFailure`), or its
    /// screen shows the runtime's rate-limit text.
    RateLimited,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Idle => "idle",
            AgentState::Starting => "starting",
            AgentState::Working => "working",
            AgentState::IdleWithWork => "idle_with_work",
            AgentState::WaitingForInput => "waiting_for_input",
            AgentState::Stalled => "stalled",
            AgentState::Zombie => "zombie",
            AgentState::Exited => "exited",
            AgentState::Stopped => "stopped",
            AgentState::Error => "error",
            AgentState::RateLimited => "rate_limited",
        }
    }
}

/// What tmux says about the agent's session right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// The agent process runs in its pane.
    Running,
    /// The pane is kept but its process exited.
    Exited,
    /// A session is recorded open but tmux has none.
    Vanished,
    /// No open session.
    None,
    /// Its open session runs on another host of the town, whose daemon
    /// watches it; what it does is what that host stored.
    Remote,
}

/// One agent (polecat) as the views show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentActivity {
    pub agent: String,
    pub rig: String,
    pub polecat: String,
    pub polecat_state: PolecatState,
    pub state: AgentState,
    pub bead: Option<String>,
    pub bead_status: Option<Status>,
    pub session: Option<String>,
    pub session_id: Option<i64>,
    pub runtime: Option<String>,
    pub live: Liveness,
    pub exit_code: Option<i32>,
    /// Latest of screen change, own event, commit on its branch, session start.
    pub last_activity: Option<String>,
    /// Which of those it was: `screen`, `command`, `commit`, `hook` (a
    /// runtime hook's report) or `session`.
    pub activity_source: Option<&'static str>,
    /// How `state` was learned: `tmux`, `hook` or `screen`.
    pub state_source: Option<&'static str>,
    pub problem: Option<Problem>,
    /// The host its open session runs on (null without one, or for a
    /// session from before towns had hosts).
    pub host: Option<String>,
}

impl Screen {
    /// Stored form (with an observation).
    pub fn encode(&self) -> String {
        match self {
            Screen::Busy => "busy".into(),
            Screen::Question(q, None) => format!("question:{q}"),
            Screen::Question(q, Some(r)) => format!("dialog:{}:{q}", r.as_str()),
            Screen::AtPrompt => "prompt".into(),
            Screen::RateLimited => "rate_limited".into(),
            Screen::Error => "error".into(),
            Screen::Unknown => "unknown".into(),
        }
    }

    pub fn decode(s: &str) -> Option<Screen> {
        match s {
            "busy" => Some(Screen::Busy),
            "prompt" => Some(Screen::AtPrompt),
            "rate_limited" => Some(Screen::RateLimited),
            "error" => Some(Screen::Error),
            "unknown" => Some(Screen::Unknown),
            _ => {
                if let Some(q) = s.strip_prefix("question:") {
                    return Some(Screen::Question(q.to_string(), None));
                }
                let (reason, q) = s.strip_prefix("dialog:")?.split_once(':')?;
                let reason = serde_json::from_value(serde_json::Value::from(reason)).ok();
                Some(Screen::Question(q.to_string(), reason))
            }
        }
    }
}

/// What a screen shows, read from its last lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Says it is busy (e.g. `esc to interrupt`).
    Busy,
    /// A permission or yes/no question or a dialog: the line asking, and
    /// the kind of dialog when known.
    Question(String, Option<crate::screen::DialogReason>),
    /// Its input prompt, waiting for instructions.
    AtPrompt,
    /// The runtime's rate-limit text.
    RateLimited,
    /// The runtime's own error text (e.g. codex retrying a failing model API).
    Error,
    /// Nothing recognised.
    Unknown,
}

/// Classifies a captured screen with the one classifier
/// ([`gt_agents::screen::classify`]). `ready_pattern` is the runtime's "at the
/// prompt" text, when it has one.
pub fn classify_screen(screen: &str, ready_pattern: Option<&str>) -> Screen {
    Screen::from_state(crate::screen::classify(
        screen,
        &crate::screen::Patterns::ready_only(ready_pattern),
    ))
}

/// [`classify_screen`] with everything known about the runtime (its
/// preset's ready, busy and dialog texts).
pub fn classify_screen_for(screen: &str, runtime: Option<&crate::runtime::Runtime>) -> Screen {
    Screen::from_state(crate::screen::classify(
        screen,
        &crate::screen::Patterns::for_optional(runtime),
    ))
}

impl Screen {
    /// The problems view of a classified screen.
    pub fn from_state(s: crate::screen::ScreenState) -> Screen {
        use crate::screen::ScreenState as S;
        match s {
            S::Working => Screen::Busy,
            S::Idle => Screen::AtPrompt,
            S::WaitingForInput { line, reason } => Screen::Question(line, Some(reason)),
            S::RateLimited => Screen::RateLimited,
            S::Error => Screen::Error,
            S::Unknown => Screen::Unknown,
        }
    }
}

/// A short, stable hash of screen text.
pub fn screen_hash(screen: &str) -> String {
    let d = Sha256::digest(screen.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn ts(s: &str) -> Option<OffsetDateTime> {
    parse_ts(s).ok()
}

fn age(now: OffsetDateTime, t: &str) -> Option<Duration> {
    ts(t).map(|t| (now - t).try_into().unwrap_or(Duration::ZERO))
}

/// Modification time of the branch ref in the rig's bare repository: when
/// a commit last moved it (loose refs only; `None` otherwise).
fn branch_commit_time(ws: &Workspace, rig: &str, branch: &str) -> Option<String> {
    if branch.is_empty() || branch.contains("..") {
        return None;
    }
    let path = ws.repo_dir(rig).join("refs/heads").join(branch);
    let mtime = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(format_ts(OffsetDateTime::from(mtime)))
}

/// Every polecat with its state, liveness and last activity, checked
/// against tmux now. Samples the screens of live agents (stored as
/// observations; a read-only town is sampled but not recorded).
pub fn observe(ws: &Workspace, th: &Thresholds) -> Result<Vec<AgentActivity>> {
    let tmux = ws.host.tmux.list_sessions()?;
    observe_with(ws, th, &tmux)
}

/// [`observe`] with a tmux session list the caller already has.
pub fn observe_with(
    ws: &Workspace,
    th: &Thresholds,
    tmux: &[SessionInfo],
) -> Result<Vec<AgentActivity>> {
    observe_inner(ws, th, tmux, true)
}

/// `with_faults`: an agent's fault (a deacon step failing for it) is shown as
/// its problem; without, the problem is what the agent itself shows.
fn observe_inner(
    ws: &Workspace,
    th: &Thresholds,
    tmux: &[SessionInfo],
    with_faults: bool,
) -> Result<Vec<AgentActivity>> {
    let now = ws.town.clock().now();
    let polecats = ws.store.list_polecats(None)?;
    let open = ws.store.list_sessions(&crate::store::SessionFilter {
        open_only: true,
        ..Default::default()
    })?;
    // This host's open sessions, and (in a town of several hosts) the
    // others', each agent's latest.
    let mut open_by_agent: HashMap<(String, String), Session> = HashMap::new();
    let mut elsewhere: HashMap<(String, String), Session> = HashMap::new();
    for s in open {
        let key = (s.rig.clone(), s.polecat.clone());
        let map = if ws.runs_here(&s) {
            &mut open_by_agent
        } else {
            &mut elsewhere
        };
        match map.get(&key) {
            Some(prev) if prev.id > s.id => {}
            _ => {
                map.insert(key, s);
            }
        }
    }
    let hooks: HashMap<String, HookState> = ws
        .store
        .hook_states()?
        .into_iter()
        .map(|h| (h.agent.clone(), h))
        .collect();
    let faults: Vec<Fault> = if with_faults {
        ws.store.faults()?
    } else {
        Vec::new()
    };
    let observations: HashMap<String, ScreenObservation> = ws
        .store
        .screen_observations()?
        .into_iter()
        .map(|o| (o.agent.clone(), o))
        .collect();

    // First pass: liveness, and a screen sample of every live agent.
    struct Pending {
        polecat: Polecat,
        session: Option<Session>,
        info: Option<SessionInfo>,
        screen: Option<Screen>,
        hash: Option<String>,
        /// The captured text, kept in the store for other hosts' `gt peek`.
        text: Option<String>,
    }
    // Only a shared store has other hosts to show a screen to.
    let keep_text = ws.town.is_shared();
    let mut pending = Vec::with_capacity(polecats.len());
    for p in polecats {
        let session = open_by_agent.remove(&(p.rig.clone(), p.name.clone()));
        let info = session
            .as_ref()
            .and_then(|s| tmux.iter().find(|i| i.name == s.tmux_session).cloned());
        let (mut screen, mut hash, mut kept_text) = (None, None, None);
        if let (Some(s), Some(i)) = (&session, &info) {
            // No output since the last sample of this session: its screen
            // cannot have changed, so the last sample stands (one tmux call
            // for every agent instead of one per agent).
            let unchanged = observations.get(&p.address()).filter(|o| {
                o.session_id == Some(s.id)
                    && crate::clock::parse_ts(&o.observed_at)
                        .is_ok_and(|t| i.activity > 0 && i.activity < t.unix_timestamp())
            });
            if let Some(o) = unchanged.filter(|_| !i.pane_dead) {
                screen = o.screen_kind.as_deref().and_then(Screen::decode);
                hash = screen.as_ref().map(|_| o.screen_hash.clone());
            }
            if !i.pane_dead && screen.is_none() {
                if let Ok(text) = ws.host.tmux.capture_pane(&s.tmux_session, SCREEN_LINES) {
                    let runtime = ws.town.config.runtime(&s.runtime).ok();
                    screen = Some(classify_screen_for(&text, runtime.as_ref()));
                    hash = Some(screen_hash(&text));
                    kept_text = keep_text.then_some(text);
                }
            }
        }
        pending.push(Pending {
            polecat: p,
            session,
            info,
            screen,
            hash,
            text: kept_text,
        });
    }
    let agents: Vec<String> = pending.iter().map(|p| p.polecat.address()).collect();
    let kinds: Vec<Option<String>> = pending
        .iter()
        .map(|p| p.screen.as_ref().map(Screen::encode))
        .collect();
    let samples: Vec<ScreenSample<'_>> = pending
        .iter()
        .zip(&agents)
        .zip(&kinds)
        .filter_map(|((p, a), k)| {
            Some(ScreenSample {
                agent: a,
                session_id: p.session.as_ref().map(|s| s.id),
                screen_hash: p.hash.as_deref()?,
                screen_kind: k.as_deref()?,
                screen_text: p.text.as_deref(),
            })
        })
        .collect();
    let recorded: HashMap<String, ScreenObservation> = match ws.store.record_screens(&samples) {
        Ok(v) => v.into_iter().map(|o| (o.agent.clone(), o)).collect(),
        // A read-only town (or a busy one) still gets a truthful view; it
        // just cannot remember this sample.
        Err(_) => HashMap::new(),
    };

    let mut out = Vec::with_capacity(pending.len());
    for (p, agent) in pending.into_iter().zip(agents) {
        let pc = &p.polecat;
        if p.session.is_none() {
            if let Some(s) = elsewhere.remove(&(pc.rig.clone(), pc.name.clone())) {
                let obs = observations.get(&agent);
                out.push(remote_activity(
                    ws,
                    th,
                    pc,
                    &agent,
                    &s,
                    obs,
                    hooks.get(&agent),
                )?);
                continue;
            }
        }
        let session = p.session;
        let bead = session
            .as_ref()
            .map(|s| s.bead.clone())
            .or_else(|| pc.bead.clone());
        let bead_status = match &bead {
            Some(b) => ws.store.get_bead(b).ok().map(|b| b.status),
            None => None,
        };
        let holds_work = matches!(bead_status, Some(Status::Hooked | Status::InProgress));
        let obs = recorded
            .get(&agent)
            .or_else(|| observations.get(&agent))
            .filter(|o| o.session_id == session.as_ref().map(|s| s.id));

        // Last activity: the latest of the known signals.
        let mut candidates: Vec<(String, &'static str)> = Vec::new();
        if let Some(t) = obs.and_then(|o| o.screen_changed_at.clone()) {
            candidates.push((t, "screen"));
        }
        if let Some(t) = ws.store.last_event_time_by(&agent)? {
            candidates.push((t, "command"));
        }
        let branch = session
            .as_ref()
            .map(|s| s.branch.clone())
            .or_else(|| pc.branch.clone());
        if let Some(t) = branch
            .as_deref()
            .filter(|_| bead.is_some())
            .and_then(|b| branch_commit_time(ws, &pc.rig, b))
        {
            candidates.push((t, "commit"));
        }
        // The runtime hooks' last report, when it belongs to this session.
        let hook = hooks.get(&agent).filter(|h| {
            session
                .as_ref()
                .is_some_and(|s| h.updated_at >= s.started_at)
        });
        if let Some(h) = hook {
            candidates.push((h.updated_at.clone(), "hook"));
        }
        if let Some(s) = &session {
            let t = s.running_at.clone().unwrap_or_else(|| s.started_at.clone());
            candidates.push((t, "session"));
        }
        let (last_activity, activity_source) = latest(candidates);
        let quiet = last_activity
            .as_deref()
            .and_then(|t| age(now, t))
            .unwrap_or(Duration::MAX);

        let problem = |kind: ProblemKind, since: Option<String>, detail: String| Problem {
            reason: None,
            agent: agent.clone(),
            rig: pc.rig.clone(),
            polecat: pc.name.clone(),
            kind,
            bead: bead.clone(),
            session: session.as_ref().map(|s| s.tmux_session.clone()),
            since,
            last_activity: last_activity.clone(),
            suggested_action: suggest(kind, &agent, bead.as_deref()),
            detail,
        };

        let mut live = Liveness::None;
        let mut exit_code = None;
        // How the state was learned: tmux itself (liveness), the runtime's
        // hooks, or the screen; replaced below for live agents.
        let mut state_source: Option<&'static str> = session.as_ref().map(|_| "tmux");
        let (state, prob) = match (&session, &p.info) {
            (Some(s), None) => {
                live = Liveness::Vanished;
                if s.running_at.is_none()
                    && age(now, &s.started_at).is_some_and(|a| a < START_GRACE)
                {
                    (AgentState::Starting, None)
                } else {
                    (
                        AgentState::Zombie,
                        Some(problem(
                            ProblemKind::Zombie,
                            last_activity.clone(),
                            format!(
                                "tmux session {} is gone; {} is still {}",
                                s.tmux_session,
                                s.bead,
                                bead_status.map(|b| b.as_str()).unwrap_or("held")
                            ),
                        )),
                    )
                }
            }
            (Some(_), Some(i)) if i.pane_dead => {
                live = Liveness::Exited;
                exit_code = i.dead_status;
                let how = match (i.dead_status, i.dead_signal) {
                    (Some(c), _) => format!("exit code {c}"),
                    (None, Some(sig)) => format!("signal {sig}"),
                    _ => "unknown status".to_string(),
                };
                (
                    AgentState::Exited,
                    Some(problem(
                        ProblemKind::EndedWithoutDone,
                        last_activity.clone(),
                        format!("the agent exited ({how}) without gt done"),
                    )),
                )
            }
            (Some(s), Some(_)) => {
                live = Liveness::Running;
                let unchanged_since = obs.map(|o| {
                    o.screen_changed_at
                        .clone()
                        .unwrap_or_else(|| o.first_observed_at.clone())
                });
                let unchanged_for = unchanged_since
                    .as_deref()
                    .and_then(|t| age(now, t))
                    .unwrap_or(Duration::ZERO);
                let (screen, source) = match (&p.screen, hook.map(|h| h.state.as_str())) {
                    (Some(Screen::Question(q, r)), _) => {
                        (Some(Screen::Question(q.clone(), *r)), "screen")
                    }
                    (_, Some("waiting-for-input")) => (
                        Some(Screen::Question(
                            "(its hooks report a permission or question dialog)".to_string(),
                            None,
                        )),
                        "hook",
                    ),
                    (Some(Screen::Busy), _) => (Some(Screen::Busy), "screen"),
                    (_, Some("idle")) => (Some(Screen::AtPrompt), "hook"),
                    (other, _) => (other.clone(), "screen"),
                };
                state_source = Some(source);
                let hook_state = hook.map(|h| h.state.as_str());
                match &screen {
                    // The runtime's StopFailure hook: the API failed. Its
                    // report holds until the next prompt reports `working`.
                    _ if hook_state == Some("rate-limited") => {
                        state_source = Some("hook");
                        (AgentState::RateLimited, None)
                    }
                    _ if hook_state == Some("error") => {
                        state_source = Some("hook");
                        (AgentState::Error, None)
                    }
                    // The same, read from the screen of a runtime without
                    // hooks (codex: `Reconnecting... 1/5`).
                    Some(Screen::RateLimited) => (AgentState::RateLimited, None),
                    Some(Screen::Error) => (AgentState::Error, None),
                    Some(Screen::Question(q, reason)) => (
                        AgentState::WaitingForInput,
                        Some(Problem {
                            reason: *reason,
                            ..problem(
                                ProblemKind::WaitingForInput,
                                unchanged_since.clone(),
                                format!("asks: {}", truncate(q, 120)),
                            )
                        }),
                    ),
                    Some(Screen::AtPrompt) if holds_work && quiet >= th.idle => (
                        AgentState::IdleWithWork,
                        Some(problem(
                            ProblemKind::IdleWithWork,
                            last_activity.clone(),
                            format!("at its prompt holding {}", s.bead),
                        )),
                    ),
                    _ if quiet >= th.stall && unchanged_for >= th.stall => (
                        AgentState::Stalled,
                        Some(problem(
                            ProblemKind::Stalled,
                            last_activity.clone(),
                            format!(
                                "nothing changed for {}",
                                human_duration(quiet.min(unchanged_for))
                            ),
                        )),
                    ),
                    _ if s.running_at.is_none() => (AgentState::Starting, None),
                    _ => (AgentState::Working, None),
                }
            }
            (None, _) if holds_work => {
                let last = ws.store.last_session(&pc.rig, &pc.name)?;
                let reason = last.as_ref().and_then(|s| s.end_reason.clone());
                if reason.as_deref() == Some(end_reason::STOPPED) {
                    (AgentState::Stopped, None)
                } else if reason.as_deref() == Some(end_reason::EXITED) {
                    (
                        AgentState::Exited,
                        Some(problem(
                            ProblemKind::EndedWithoutDone,
                            last.as_ref().and_then(|s| s.ended_at.clone()),
                            "its session ended (exited) without gt done".to_string(),
                        )),
                    )
                } else {
                    (
                        AgentState::Zombie,
                        Some(problem(
                            ProblemKind::Zombie,
                            last.as_ref()
                                .and_then(|s| s.ended_at.clone())
                                .or_else(|| last_activity.clone()),
                            format!(
                                "holds {} ({}) with no session{}",
                                bead.as_deref().unwrap_or("?"),
                                bead_status.map(|b| b.as_str()).unwrap_or("?"),
                                reason
                                    .map(|r| format!(" (last ended: {r})"))
                                    .unwrap_or_default()
                            ),
                        )),
                    )
                }
            }
            (None, _) => (AgentState::Idle, None),
        };
        // A step of the deacon that fails for this agent is what keeps the
        // other problems from being handled: it is the one shown.
        let prob = match faults
            .iter()
            .find(|f| f.scope == "agent" && f.subject == agent)
        {
            Some(f) => {
                let mut p = fault_problem(f);
                p.bead = bead.clone();
                p.session = session.as_ref().map(|s| s.tmux_session.clone());
                p.last_activity = last_activity.clone();
                if let Some(other) = &prob {
                    p.detail = format!(
                        "{} (also {}: {})",
                        p.detail,
                        other.kind.as_str(),
                        other.detail
                    );
                }
                Some(p)
            }
            None => prob,
        };
        out.push(AgentActivity {
            agent: agent.clone(),
            rig: pc.rig.clone(),
            polecat: pc.name.clone(),
            polecat_state: pc.state,
            state,
            bead,
            bead_status,
            session: session.as_ref().map(|s| s.tmux_session.clone()),
            session_id: session.as_ref().map(|s| s.id),
            runtime: session.as_ref().map(|s| s.runtime.clone()),
            live,
            exit_code,
            last_activity,
            activity_source,
            state_source,
            problem: prob,
            host: session.as_ref().and_then(|s| s.host.clone()),
        });
    }
    Ok(out)
}

/// The latest of the activity signals `(time, source)`.
fn latest(candidates: Vec<(String, &'static str)>) -> (Option<String>, Option<&'static str>) {
    candidates
        .into_iter()
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(t, src)| (Some(t), Some(src)))
        .unwrap_or((None, None))
}

/// An agent whose open session `s` runs on another host: its state as that
/// host's patrol and the runtime's hooks stored it. That host's daemon
/// judges its problems (this host cannot see its tmux), so it has none here.
fn remote_activity(
    ws: &Workspace,
    th: &Thresholds,
    pc: &Polecat,
    agent: &str,
    s: &Session,
    obs: Option<&ScreenObservation>,
    hook: Option<&HookState>,
) -> Result<AgentActivity> {
    let obs = obs.filter(|o| o.session_id == Some(s.id));
    let hook = hook.filter(|h| h.updated_at >= s.started_at);
    let bead_status = ws.store.get_bead(&s.bead).ok().map(|b| b.status);
    let holds_work = matches!(bead_status, Some(Status::Hooked | Status::InProgress));
    let screen = obs
        .and_then(|o| o.screen_kind.as_deref())
        .and_then(Screen::decode);
    let mut candidates: Vec<(String, &'static str)> = Vec::new();
    if let Some(t) = obs.and_then(|o| o.screen_changed_at.clone()) {
        candidates.push((t, "screen"));
    }
    if let Some(t) = ws.store.last_event_time_by(agent)? {
        candidates.push((t, "command"));
    }
    if let Some(h) = hook {
        candidates.push((h.updated_at.clone(), "hook"));
    }
    candidates.push((
        s.running_at.clone().unwrap_or_else(|| s.started_at.clone()),
        "session",
    ));
    let (last_activity, activity_source) = latest(candidates);
    let quiet = last_activity
        .as_deref()
        .and_then(|t| age(ws.town.clock().now(), t))
        .unwrap_or(Duration::MAX);
    let (state, source) = match (hook.map(|h| h.state.as_str()), &screen) {
        (Some("rate-limited"), _) => (AgentState::RateLimited, Some("hook")),
        (Some("error"), _) => (AgentState::Error, Some("hook")),
        (_, Some(Screen::Question(..))) => (AgentState::WaitingForInput, Some("screen")),
        (Some("waiting-for-input"), _) => (AgentState::WaitingForInput, Some("hook")),
        (_, Some(Screen::RateLimited)) => (AgentState::RateLimited, Some("screen")),
        (_, Some(Screen::Error)) => (AgentState::Error, Some("screen")),
        (_, Some(Screen::Busy)) => (AgentState::Working, Some("screen")),
        // At its prompt holding work, quiet as long as this host would
        // call it idle.
        (Some("idle"), _) if holds_work && quiet >= th.idle => {
            (AgentState::IdleWithWork, Some("hook"))
        }
        (_, Some(Screen::AtPrompt)) if holds_work && quiet >= th.idle => {
            (AgentState::IdleWithWork, Some("screen"))
        }
        _ if s.running_at.is_none() => (AgentState::Starting, None),
        _ => (AgentState::Working, screen.as_ref().map(|_| "screen")),
    };
    Ok(AgentActivity {
        agent: agent.to_string(),
        rig: pc.rig.clone(),
        polecat: pc.name.clone(),
        polecat_state: pc.state,
        state,
        bead: Some(s.bead.clone()),
        bead_status,
        session: Some(s.tmux_session.clone()),
        session_id: Some(s.id),
        runtime: Some(s.runtime.clone()),
        live: Liveness::Remote,
        exit_code: None,
        last_activity,
        activity_source,
        state_source: source,
        problem: None,
        host: s.host.clone(),
    })
}

/// The problems among `agents`, most urgent first.
pub fn problems_of(agents: &[AgentActivity]) -> Vec<Problem> {
    let mut v: Vec<Problem> = agents.iter().filter_map(|a| a.problem.clone()).collect();
    v.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.agent.cmp(&b.agent)));
    v
}

/// A fault as a problem.
pub fn fault_problem(f: &Fault) -> Problem {
    let kind = match f.scope.as_str() {
        "agent" => ProblemKind::AgentFailing,
        "rig" => ProblemKind::RigFailing,
        _ => ProblemKind::PatrolFailing,
    };
    let times = if f.count > 1 {
        format!(" ({} times since {})", f.count, f.first_at)
    } else {
        String::new()
    };
    Problem {
        reason: None,
        agent: f.subject.clone(),
        rig: f.rig.clone().unwrap_or_default(),
        polecat: f.polecat.clone().unwrap_or_default(),
        kind,
        bead: None,
        session: None,
        since: Some(f.first_at.clone()),
        last_activity: Some(f.last_at.clone()),
        detail: format!("{} failed: {}{times}", f.step, truncate(&f.error, 300)),
        suggested_action: match kind {
            ProblemKind::AgentFailing => "fix what the error names (e.g. its worktree), then the deacon goes on by itself; gt trail --kind deacon.agent_failed".to_string(),
            ProblemKind::RigFailing => format!(
                "fix what the error names in rig {}, then the deacon goes on by itself; gt trail --kind deacon.rig_failed",
                f.subject
            ),
            _ => "see the deacon log (gt deacon status); gt trail --kind deacon.patrol_failed".to_string(),
        },
    }
}

/// Problems that are no agent's: rigs and patrol steps that fail, and
/// faults of agents that are not among `agents` (e.g. removed since).
pub fn fault_problems(ws: &Workspace, agents: &[AgentActivity]) -> Result<Vec<Problem>> {
    let mut v: Vec<Problem> = ws
        .store
        .faults()?
        .iter()
        .filter(|f| f.scope != "agent" || !agents.iter().any(|a| a.agent == f.subject))
        .map(fault_problem)
        .collect();
    v.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.agent.cmp(&b.agent)));
    Ok(v)
}

/// Every problem of the town, as `gt status` and `gt feed` show it: rigs
/// whose repository config was changed behind gt's back, then
/// [`fault_problems`], then the problems among `agents`.
pub fn town_problems(ws: &Workspace, agents: &[AgentActivity]) -> Result<Vec<Problem>> {
    let mut v = crate::repo_guard::problems(ws)?;
    v.extend(fault_problems(ws, agents)?);
    v.extend(problems_of(agents));
    Ok(v)
}

/// Every agent that needs someone, most urgent first, checked against tmux
/// now. (The deacon calls this on each patrol.)
pub fn detect(ws: &Workspace, thresholds: &Thresholds) -> Result<Vec<Problem>> {
    Ok(problems_of(&observe(ws, thresholds)?))
}

/// [`detect`] without the agents' faults: what each agent itself shows (the
/// deacon acts on these; a fault is another step's business).
pub fn detect_own(ws: &Workspace, thresholds: &Thresholds) -> Result<Vec<Problem>> {
    let tmux = ws.host.tmux.list_sessions()?;
    Ok(problems_of(&observe_inner(ws, thresholds, &tmux, false)?))
}

/// The command that addresses a problem.
pub fn suggest(kind: ProblemKind, agent: &str, bead: Option<&str>) -> String {
    let bead = bead.unwrap_or("BEAD");
    match kind {
        ProblemKind::ConfigTampered => format!(
            "gt trail --kind rig.config_tampered --rig {agent}: find which agent changed it"
        ),
        ProblemKind::Zombie => format!("gt resume {bead}"),
        ProblemKind::EndedWithoutDone => {
            format!("gt peek {agent} to see why, then gt resume {bead}")
        }
        ProblemKind::WaitingForInput => format!("gt attach {agent} and answer"),
        ProblemKind::IdleWithWork => format!("gt nudge {agent} \"continue with {bead}\""),
        ProblemKind::Stalled => format!("gt peek {agent}; gt nudge {agent} or gt resume {bead}"),
        ProblemKind::AgentFailing | ProblemKind::RigFailing | ProblemKind::PatrolFailing => {
            "fix what the error names; the deacon goes on by itself".to_string()
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `45s`, `12m`, `3h`, `2d`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// How long ago `time` (canonical timestamp) was, as [`human_duration`];
/// `-` when unknown.
pub fn ago(now: OffsetDateTime, time: Option<&str>) -> String {
    match time.and_then(|t| age(now, t)) {
        Some(d) => format!("{} ago", human_duration(d)),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_screen_questions_are_waiting_for_input() {
        let s = "working...\nDo you want to proceed? (y/n)";
        assert_eq!(
            classify_screen(s, None),
            Screen::Question(
                "Do you want to proceed? (y/n)".into(),
                Some(crate::screen::DialogReason::Permission)
            )
        );
        let claude =
            "╭────╮\n│ Bash(rm -rf build) │\n Do you want to proceed?\n ❯ 1. Yes\n   2. No";
        assert!(matches!(
            classify_screen(claude, None),
            Screen::Question(..)
        ));
    }

    #[test]
    fn problems_screen_prompt_and_busy() {
        assert_eq!(classify_screen("hello\nstandin>", None), Screen::AtPrompt);
        assert_eq!(
            classify_screen("output\n  ? for shortcuts", Some("? for shortcuts")),
            Screen::AtPrompt
        );
        assert_eq!(
            classify_screen(
                "✻ Thinking… (esc to interrupt)\n> \n? for shortcuts",
                Some("? for shortcuts")
            ),
            Screen::Busy
        );
        assert_eq!(classify_screen("compiling foo v1", None), Screen::Unknown);
        assert_eq!(classify_screen("", None), Screen::Unknown);
    }

    #[test]
    fn problems_question_far_above_the_bottom_is_old() {
        let mut s = String::from("Do you want to proceed? (y/n) y\n");
        for i in 0..20 {
            s.push_str(&format!("line {i}\n"));
        }
        assert_eq!(classify_screen(&s, None), Screen::Unknown);
    }

    #[test]
    fn problems_hash_and_durations() {
        assert_eq!(screen_hash("a"), screen_hash("a"));
        assert_ne!(screen_hash("a"), screen_hash("b"));
        assert_eq!(screen_hash("a").len(), 16);
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        assert_eq!(human_duration(Duration::from_secs(14 * 3600)), "14h");
        let now = parse_ts("2026-01-01T12:00:00Z").unwrap();
        assert_eq!(ago(now, Some("2026-01-01T11:49:00.000000Z")), "11m ago");
        assert_eq!(ago(now, None), "-");
        assert_eq!(ago(now, Some("garbage")), "-");
    }

    #[test]
    fn problems_a_fault_is_a_problem_with_its_error() {
        let f = Fault {
            scope: "rig".into(),
            subject: "web".into(),
            rig: Some("web".into()),
            polecat: None,
            step: "refinery".into(),
            error: "rig web has no branch main".into(),
            first_at: "2026-01-01T11:00:00.000000Z".into(),
            last_at: "2026-01-01T11:05:00.000000Z".into(),
            count: 3,
        };
        let p = fault_problem(&f);
        assert_eq!(p.kind, ProblemKind::RigFailing);
        assert_eq!(p.agent, "web");
        assert!(p
            .detail
            .starts_with("refinery failed: rig web has no branch main"));
        assert!(p.detail.contains("3 times"), "{}", p.detail);
        assert_eq!(p.since.as_deref(), Some("2026-01-01T11:00:00.000000Z"));
        let a = fault_problem(&Fault {
            scope: "agent".into(),
            count: 1,
            ..f.clone()
        });
        assert_eq!(a.kind, ProblemKind::AgentFailing);
        assert!(!a.detail.contains("times"));
        assert!(ProblemKind::AgentFailing < ProblemKind::Zombie);
        assert_eq!(
            serde_json::to_value(ProblemKind::PatrolFailing).unwrap(),
            "patrol_failing"
        );
    }

    #[test]
    fn problems_kinds_sort_by_urgency() {
        assert!(ProblemKind::Zombie < ProblemKind::Stalled);
        assert_eq!(
            serde_json::to_value(ProblemKind::IdleWithWork).unwrap(),
            "idle_with_work"
        );
        assert_eq!(
            suggest(ProblemKind::Zombie, "r/nux", Some("r-1")),
            "gt resume r-1"
        );
    }
}
